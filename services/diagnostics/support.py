"""What a driver at a connector is told: the language to answer in, the explanation of its fault, and what to try.
Pure: no I/O.

The knowledge base's driver messages explain a fault; a connector that is out of service without an incident
(switched off, reserved, busy) gets the generic advice of its status, in the same languages.
"""

from __future__ import annotations

from typing import Iterable, Mapping, TypeVar

T = TypeVar("T")

DEFAULT_LANG = "en"
# 1.6 and 2.0.1 statuses (and 1.6's charging sub-states) a driver cannot use now, though nothing is broken.
IN_USE = ("Occupied", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing")
OUT_OF_SERVICE = ("Unavailable", "Faulted")

_TIPS: dict[str, dict[str, tuple[str, ...]]] = {
    "available": {
        "en": ("Plug in your vehicle, then start charging with your card or the app.",),
        "de": ("Stecken Sie Ihr Fahrzeug an und starten Sie den Ladevorgang mit Ihrer Karte oder der App.",),
        "fr": ("Branchez votre véhicule, puis démarrez la charge avec votre carte ou l'application.",),
    },
    "in_use": {
        "en": ("This connector is in use. Please use another connector or wait until it is free.",),
        "de": ("Dieser Anschluss ist belegt. Bitte nutzen Sie einen anderen Anschluss oder warten Sie, bis er frei ist.",),
        "fr": ("Ce point de charge est occupé. Utilisez-en un autre ou attendez qu'il se libère.",),
    },
    "reserved": {
        "en": ("This connector is reserved. Please use another connector.",),
        "de": ("Dieser Anschluss ist reserviert. Bitte nutzen Sie einen anderen Anschluss.",),
        "fr": ("Ce point de charge est réservé. Veuillez en utiliser un autre.",),
    },
    "out_of_service": {
        "en": ("This connector is out of service at the moment. Please use another connector.",
               "If you need help, report the problem: the operator will contact you."),
        "de": ("Dieser Anschluss ist derzeit außer Betrieb. Bitte nutzen Sie einen anderen Anschluss.",
               "Wenn Sie Hilfe brauchen, melden Sie das Problem: der Betreiber meldet sich bei Ihnen."),
        "fr": ("Ce point de charge est hors service pour le moment. Veuillez en utiliser un autre.",
               "Si vous avez besoin d'aide, signalez le problème : l'opérateur vous contactera."),
    },
    "unknown": {
        "en": ("The connector's state is not known. If charging does not start, please use another connector.",),
        "de": ("Der Zustand des Anschlusses ist unbekannt. Startet der Ladevorgang nicht, nutzen Sie bitte einen "
               "anderen Anschluss.",),
        "fr": ("L'état du point de charge est inconnu. Si la charge ne démarre pas, utilisez un autre point de charge.",),
    },
}
_FALLBACK_TIP = {
    "en": "If it does not help, please use another connector or report the problem.",
    "de": "Hilft das nicht, nutzen Sie bitte einen anderen Anschluss oder melden Sie das Problem.",
    "fr": "Si cela ne suffit pas, utilisez un autre point de charge ou signalez le problème.",
}


def choose(texts: Mapping[str, T], wanted: Iterable[str]) -> tuple[str, T]:
    """(language, text): the first wanted language `texts` has, else English, else the first by name."""
    for lang in wanted:
        if lang in texts:
            return lang, texts[lang]
    lang = DEFAULT_LANG if DEFAULT_LANG in texts else next(iter(sorted(texts)))
    return lang, texts[lang]


def _kind(status: str | None) -> str:
    if status == "Available":
        return "available"
    if status in IN_USE:
        return "in_use"
    if status == "Reserved":
        return "reserved"
    if status in OUT_OF_SERVICE:
        return "out_of_service"
    return "unknown"


def advice(status: str | None, driver_message: Mapping[str, str] | None,
           wanted: Iterable[str]) -> tuple[str, str | None, list[str]]:
    """(language, the fault's explanation, what to try) for a connector in `status`, with the driver message of its
    open incident if it has one. The language is the first wanted one the explanation has (else English), and the
    tips follow it."""
    wanted = list(wanted)
    if driver_message:
        lang, message = choose(driver_message, wanted)
        return lang, message, [_FALLBACK_TIP.get(lang, _FALLBACK_TIP[DEFAULT_LANG])]
    lang, tips = choose(_TIPS[_kind(status)], wanted)
    return lang, None, list(tips)
