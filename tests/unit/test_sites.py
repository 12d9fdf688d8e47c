"""The rules of a site's definition: ISO 3166-1 countries and IANA time zones, from the lists a deployment has."""

from __future__ import annotations

from services.connectivity import sites


def test_countries_are_iso_3166_alpha_2_as_assigned() -> None:
    countries = sites.countries()
    assert 245 <= len(countries) <= 260, len(countries)  # 249 in 2024; ISO adds or withdraws one every few years
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in countries)
    assert {"DE", "FR", "GB", "US", "SS", "CW", "SX", "BQ", "AQ", "AX"} <= countries
    # Not assigned: a common mistake (UK), reserved (EU), user-assigned (XK), withdrawn (AN, YU, CS).
    assert not {"UK", "EU", "XK", "AN", "YU", "CS"} & countries


def test_a_country_is_refused_with_what_to_send_instead() -> None:
    assert sites.country_problem("DE") is None
    assert sites.country_problem("de") == "'de' is not an ISO 3166-1 alpha-2 code: send it upper case, 'DE'"
    assert "e.g. DE, FR, GB, US" in str(sites.country_problem("UK"))
    assert sites.country_problem("DEU") is not None


def test_time_zones_are_iana_names() -> None:
    for name in ("Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC", "Asia/Kolkata"):
        assert sites.time_zone_problem(name) is None, name
    for name in ("CEST", "Europe/Atlantis", "", "europe/berlin", "/etc/localtime", "../zoneinfo/UTC", "+02:00"):
        assert sites.time_zone_problem(name) is not None, name


def test_a_time_zone_is_refused_with_the_closest_names() -> None:
    assert "did you mean Europe/Berlin" in str(sites.time_zone_problem("Europe/Berln"))
    assert "e.g. Europe/Berlin" in str(sites.time_zone_problem("+02:00"))
