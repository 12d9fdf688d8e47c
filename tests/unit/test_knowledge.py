"""The knowledge base of faults: its data covers what chargers report, and lookup picks the most specific entry."""

from __future__ import annotations

import pytest
from ocpp.v16.enums import ChargePointErrorCode

from services.diagnostics import knowledge
from services.diagnostics.knowledge import Entry, Policy, lookup, normalize_code

V16_CODES = [code.value for code in ChargePointErrorCode if code != ChargePointErrorCode.no_error]


def _vendor(code: str, *, vendor: str = "ACME", error_code: str = knowledge.ANY_CODE, version: int = 1,
            title: str = "vendor") -> Entry:
    return Entry(id=f"ec_{vendor}_{code}_{error_code}", version=version, ocpp_version="*", error_code=error_code,
                 vendor_id=vendor, vendor_error_code=code, title=title, severity="low", causes=["c"], steps=["s"],
                 charging_interrupted=False, driver_message={"en": "e"})


@pytest.mark.parametrize("code", V16_CODES)
def test_every_16_error_code_has_an_entry_with_english_and_german(code: str) -> None:
    entry = lookup("ocpp1.6", code, None, None)
    assert entry.error_code == code
    assert entry.driver_message.keys() >= {"en", "de"}
    assert entry.causes and entry.steps and entry.title


def test_ids_are_unique_and_every_entry_is_versioned() -> None:
    entries = knowledge.builtin()
    assert len({e.id for e in entries}) == len(entries)
    assert len({(e.ocpp_version, e.error_code) for e in entries}) == len(entries)
    assert knowledge.data_version() >= 1 and all(e.version >= 1 for e in entries)


def test_every_action_is_a_remedy_and_the_guard_follows_the_policy() -> None:
    for entry in knowledge.builtin():
        assert entry.remote_action in (None, *knowledge.REMEDIES), entry.id
        assert (entry.policy is None) == (entry.remote_action is None), entry.id
        if entry.policy is not None:
            assert entry.policy.action == entry.remote_action, entry.id
            assert entry.policy.then in (None, *knowledge.REMEDIES), entry.id
            assert entry.guard == (None if entry.policy.allow_during_transaction else "no_transaction"), entry.id
        assert entry.driver_message.keys() >= {"en", "de"}, entry.id


def test_safety_codes_never_loop() -> None:
    safety = [entry for entry in knowledge.builtin() if entry.safety]
    assert {e.error_code for e in safety} >= {"GroundFailure", "OverCurrentFailure", "PowerSwitchFailure", "RCD/Tripped",
                                              "OverCurrentProtection/Tripped"}
    for entry in safety:
        assert entry.severity in ("high", "critical"), entry.id
        if entry.policy is not None:
            assert entry.policy.max_attempts == 1 and entry.policy.cooldown_s >= 86400, entry.id
            assert not entry.policy.allow_during_transaction, entry.id
            assert entry.policy.then in (None, "set_inoperative"), entry.id


def _policy(code: str) -> Policy | None:
    return lookup("ocpp1.6", code, None, None).policy


def test_the_issues_facts() -> None:
    lock = lookup("ocpp1.6", "ConnectorLockFailure", None, None)
    assert (lock.remote_action, lock.guard, _policy("ConnectorLockFailure").then) == ("unlock_connector", "no_transaction",
                                                                                    "soft_reset")
    ev = lookup("ocpp1.6", "EVCommunicationError", None, None)
    assert ev.remote_action is None and "vehicle" in ev.causes[0] and "replug" in " ".join(ev.steps)
    for code in ("GroundFailure", "OverCurrentFailure"):
        assert (_policy(code).action, _policy(code).then) == ("soft_reset", "set_inoperative")
    assert "breaker" in " ".join(lookup("ocpp1.6", "OverCurrentFailure", None, None).steps)
    switch = lookup("ocpp1.6", "PowerSwitchFailure", None, None)
    assert (switch.severity, switch.remote_action, switch.safety) == ("critical", "set_inoperative", True)
    assert "welded" in switch.title
    heat = lookup("ocpp1.6", "HighTemperature", None, None)
    assert (heat.remote_action, heat.charging_interrupted) == ("trigger_meter_values", False)
    assert lookup("ocpp1.6", "PowerMeterFailure", None, None).remote_action == "set_inoperative"
    assert "QR" in lookup("ocpp1.6", "ReaderFailure", None, None).driver_message["en"]
    for code in ("InternalError", "ResetFailure"):
        assert (_policy(code).action, _policy(code).then) == ("soft_reset", "hard_reset")
    assert lookup("ocpp1.6", "LocalListConflict", None, None).remote_action == "full_local_list"
    assert "modem" in lookup("ocpp1.6", "WeakSignal", None, None).title.lower()
    assert "vendor" in lookup("ocpp1.6", "OtherError", None, None).title


def test_a_code_outside_the_enum_is_explained_as_other_error() -> None:
    assert normalize_code("ocpp1.6", "Error") == "OtherError"
    assert lookup("ocpp1.6", "Error", None, None).error_code == "OtherError"
    assert normalize_code("ocpp1.6", "GroundFailure") == "GroundFailure"


def test_201_problems_share_their_16_twins_explanation() -> None:
    assert lookup("ocpp2.0.1", "RCD/Tripped", None, None).causes == lookup("ocpp1.6", "GroundFailure", None, None).causes
    lock = lookup("ocpp2.0.1", "ConnectorPlugRetentionLock/Problem", None, None)
    assert lock.policy == _policy("ConnectorLockFailure")
    assert lookup("ocpp2.0.1", "ConnectorLockFailure", None, None).error_code == "ConnectorLockFailure"  # a techCode


def test_an_unknown_201_problem_gets_its_variables_generic_entry() -> None:
    assert lookup("ocpp2.0.1", "Heater/Tripped", None, None).error_code == "*/Tripped"
    assert lookup("ocpp2.0.1", "Heater/Problem", None, None).severity == "medium"
    assert lookup("ocpp2.0.1", "X17", None, None).error_code == "OtherError"
    # the code says its version when the caller cannot (FaultReported carries none)
    assert lookup("*", "RCD/Tripped", None, None).error_code == "RCD/Tripped"
    assert lookup("ocpp2.1", "Heater/Fault", None, None).error_code == "*/Fault"


def test_precedence_vendor_then_version_then_neutral() -> None:
    generic, specific = _vendor("E12"), _vendor("E12", error_code="OtherError", title="specific")
    assert lookup("ocpp1.6", "OtherError", "acme", "e12", [generic]) == generic  # case-insensitive
    assert lookup("ocpp1.6", "Error", "ACME", "E12", [generic, specific]) == specific
    assert lookup("ocpp1.6", "GroundFailure", "ACME", "E12", [specific]).id == "builtin-GroundFailure"
    assert lookup("ocpp1.6", "OtherError", "Other", "E12", [generic]).id == "builtin-OtherError"
    assert lookup("ocpp1.6", "OtherError", "ACME", "E13", [generic]).id == "builtin-OtherError"
    assert lookup("ocpp1.6", "OtherError", None, "E12", [generic]).id == "builtin-OtherError"
    newer = _vendor("E12", version=2, title="newer")
    assert lookup("ocpp1.6", "OtherError", "ACME", "E12", [generic, newer]) == newer
    assert lookup("ocpp2.0.1", "ConnectorPlugRetentionLock/Problem", None, None).ocpp_version == "ocpp2.0.1"


def test_a_201_tech_code_matches_the_vendors_code() -> None:
    entry = _vendor("HV-17")
    assert lookup("ocpp2.0.1", "HV-17", "ACME", None, [entry]) == entry


def test_a_vendor_entry_takes_what_it_leaves_out_from_the_entry_it_overrides() -> None:
    text = {"severity": "high", "causes": ["c"], "steps": ["s"], "driver_message": {"en": "e"}}
    rcd = knowledge.vendor_entry("ec_1", 1, vendor_id="V", vendor_error_code="R1", error_code="RCD/Tripped",
                                 remote_action="soft_reset", **text)
    assert (rcd.safety, rcd.charging_interrupted, rcd.policy) == (True, True, lookup("*", "RCD/Tripped", None, None).policy)
    own = knowledge.vendor_entry("ec_2", 3, vendor_id="V", vendor_error_code="R2", error_code=None,
                                 remote_action="hard_reset", title="Mains board", **text)
    assert (own.error_code, own.title, own.safety, own.version) == ("*", "Mains board", False, 3)
    assert own.policy == Policy(action="hard_reset") and own.guard == "no_transaction"
    none = knowledge.vendor_entry("ec_3", 1, vendor_id="V", vendor_error_code="R3", error_code="GroundFailure",
                                  remote_action=None, safety=False, **text)
    assert (none.policy, none.guard, none.safety) == (None, None, True)  # a vendor cannot switch safety off


def test_an_unknown_201_tech_code_is_explained_by_its_component_and_variable() -> None:
    assert lookup("ocpp2.0.1", "E42", None, None, variable_code="RCD/Tripped") == lookup("ocpp2.0.1", "RCD/Tripped", None, None)
    assert lookup("ocpp2.0.1", "E42", None, None, variable_code="Meter/Tripped").error_code == "*/Tripped"
    assert lookup("ocpp2.0.1", "E42", None, None).error_code == "OtherError"
    assert lookup("ocpp2.0.1", "GroundFailure", None, None, variable_code="RCD/Tripped").error_code == "GroundFailure"
