"""Driver support's pure parts: languages, advice, a connector's effective status, and TicketResolved."""

from __future__ import annotations

from decimal import Decimal

from services.diagnostics.changes import ticket_changes
from services.diagnostics.fleet import effective_status
from services.diagnostics.support import advice, choose
from services.shared.languages import requested_languages

T1, T2 = "2026-03-01T10:01:00.000Z", "2026-03-01T10:02:00.000Z"


def test_languages_come_from_lang_then_accept_language_by_weight() -> None:
    assert requested_languages("de-CH", "fr;q=0.5, en-GB, it;q=0.9") == ["de", "en", "it", "fr"]
    assert requested_languages(None, "fr;q=bad, *, es;q=0") == []
    assert requested_languages(None, None) == []


def test_a_text_is_chosen_in_the_first_language_it_has_else_english() -> None:
    texts = {"en": "E", "de": "D"}
    assert choose(texts, ["fr", "de"]) == ("de", "D")
    assert choose(texts, ["fr"]) == ("en", "E")
    assert choose({"nl": "N", "es": "S"}, []) == ("es", "S")


def test_advice_explains_an_incident_else_gives_the_statuss_tips() -> None:
    lang, message, tips = advice("Faulted", {"en": "Plug it in again", "de": "Neu einstecken"}, ["de"])
    assert (lang, message) == ("de", "Neu einstecken") and "anderen Anschluss" in tips[0]
    lang, message, tips = advice("Unavailable", None, ["fr"])
    assert (lang, message) == ("fr", None) and "hors service" in tips[0]
    assert "in use" in advice("Charging", None, [])[2][0]
    assert "not known" in advice(None, None, ["xx"])[2][0]


def test_a_connectors_status_is_its_own_unless_the_charger_later_blocks_it() -> None:
    own = {"status": "Charging", "status_at": T1}
    assert effective_status(own, None, {"status": "Available", "status_at": T2}) == ("Charging", T1)
    assert effective_status(own, None, {"status": "Faulted", "status_at": T2}) == ("Faulted", T2)
    assert effective_status(own, {"status": "Unavailable", "status_at": T2}, None) == ("Unavailable", T2)
    assert effective_status({"status": "Available", "status_at": T2}, None, {"status": "Faulted", "status_at": T1}) == (
        "Available", T2)
    assert effective_status(None, None, {"status": "Available", "status_at": T1}) == ("Available", T1)
    assert effective_status(None, None, None) == (None, None)


def test_a_ticket_announces_resolved_once_with_its_contact() -> None:
    opened = {"ticket_id": "t1", "charge_point_id": "CP-1", "evse_id": Decimal(2), "status": "open",
              "contact": {"phone": "+4915112345678"}}
    resolved = {**opened, "status": "resolved", "resolved_at": T2, "resolution_note": "fixed", "incident_id": "inc_1"}
    [event] = ticket_changes(opened, resolved)
    assert (event.detail_type(), event.evse_id, event.contact.phone, event.note, event.occurred_at) == (
        "TicketResolved", 2, "+4915112345678", "fixed", T2)
    assert ticket_changes(opened, resolved)[0].event_id == event.event_id
    assert ticket_changes(resolved, {**resolved, "updated_at": T2}) == []
    assert ticket_changes(None, opened) == [] and ticket_changes(opened, None) == []
