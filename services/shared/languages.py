"""The languages a person asked for (a driver's phone: Accept-Language), for every page that answers drivers in
theirs: diagnostics' support page, billing's QR pay page. Pure."""

from __future__ import annotations


def requested_languages(lang: str | None, accept_language: str | None) -> list[str]:
    """The languages asked for, best first: `lang`, then Accept-Language's by weight (RFC 9110), as primary
    subtags in lower case ("de-CH" -> "de"); a malformed weight counts as 0."""
    found: list[str] = [lang] if lang else []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            weighted.append((-weight, position, tag))
    found += [tag for _, _, tag in sorted(weighted)]
    return list(dict.fromkeys(tag.strip().split("-")[0].lower() for tag in found if tag.strip()))
