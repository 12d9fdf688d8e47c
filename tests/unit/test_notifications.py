"""The notifications service's pure parts: signatures (the receiver's recipe), webhook URLs, event type names."""

from __future__ import annotations

import pytest

from services.notifications import signing, webhooks
from services.notifications.event_types import TYPES, event_type, subscribed

BODY = b'{"id":"evt_1","type":"incident.opened"}'
SECRET = "whsec_golden"
T = 1700000000
# printf '%s' '1700000000.{"id":"evt_1","type":"incident.opened"}' | openssl dgst -sha256 -hmac whsec_golden
GOLDEN = "7e77cffc7a5f183c354be7e8d6d2fa03391b035de9f177ae26862e4e2e86cee3"


def test_a_signature_is_stripes_hmac_of_the_timestamp_and_the_body() -> None:
    assert signing.sign(BODY, SECRET, T) == f"t={T},v1={GOLDEN}"


def test_verify_accepts_the_signature_within_the_tolerance() -> None:
    header = signing.sign(BODY, SECRET, T)
    assert signing.verify(BODY, header, SECRET, now=T + 299)
    assert signing.verify(BODY, f"t={T},v1={'0' * 64},v1={GOLDEN}", SECRET, now=T)  # one of several (rotation)


@pytest.mark.parametrize(("payload", "header", "secret", "now"), [
    (BODY, f"t={T},v1={GOLDEN}", "whsec_wrong", T),  # another secret
    (BODY, f"t={T},v1={GOLDEN}", SECRET, T + 301),  # too old: a replay
    (BODY, f"t={T},v1={GOLDEN}", SECRET, T - 301),  # from the future
    (BODY.replace(b"opened", b"closed"), f"t={T},v1={GOLDEN}", SECRET, T),  # a tampered body
    (BODY, f"t={T + 1},v1={GOLDEN}", SECRET, T),  # a moved timestamp
    (BODY, f"v1={GOLDEN}", SECRET, T),  # no timestamp
    (BODY, f"t={T}", SECRET, T),  # no signature
    (BODY, f"t=soon,v1={GOLDEN}", SECRET, T),
    (BODY, f"t={str(T).translate(str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩'))},v1={GOLDEN}", SECRET, T),  # int() takes these
    (BODY, "", SECRET, T),
])
def test_verify_refuses(payload: bytes, header: str, secret: str, now: int) -> None:
    assert not signing.verify(payload, header, secret, now=now)


@pytest.mark.parametrize(("url", "allow_http", "refused"), [
    ("https://hooks.example.com/csms?x=1", False, None),
    ("http://127.0.0.1:8080/hook", True, None),
    ("http://[::1]:8080/hook", True, None),
    ("http://localhost/hook", True, None),
    ("http://127.0.0.1:8080/hook", False, "https"),
    ("http://hooks.example.com/hook", True, "loopback"),
    ("https://user:pw@hooks.example.com/", False, "credentials"),
    ("https:///nohost", False, "no host"),
    ("https://hooks.example.com:port/", False, "not a URL"),
    ("ftp://hooks.example.com/", True, "https"),
    ("https://hooks.example.com/#top", False, "fragment"),
    ("https://hooks.exämple.com/", False, "ASCII"),
    ("https://hooks.example.com/a b", False, "ASCII"),
    ("https://hooks.example.com/\x00", False, "ASCII"),
    ("https://hooks..example.com/", False, "not a URL"),
    ("https://" + "a" * 64 + ".example.com/", False, "not a URL"),
    ("https://8.8.8.8/hook", False, None),
    ("https://169.254.169.254/latest/meta-data", True, "not a public address"),
    ("https://10.1.2.3/", False, "not a public address"),
    ("https://[fd00::1]/", False, "not a public address"),
    ("https://[::ffff:10.1.2.3]/", False, "not a public address"),
    ("https://127.0.0.1/", False, "loopback"),
    ("https://2130706433/", False, "loopback"),  # 127.0.0.1, as the socket layer reads it
    ("https://localhost/", False, "loopback"),
    ("https://127.0.0.1:8443/", True, None),
])
def test_webhook_urls(url: str, allow_http: bool, refused: str | None) -> None:
    problem = webhooks.url_problem(url, allow_http)
    assert problem is None if refused is None else refused in (problem or "")


def test_a_redacted_url_keeps_its_scheme_and_host_only() -> None:
    assert webhooks.redacted("https://hooks.example.com:8443/in/tok_secret?key=k") == "https://hooks.example.com:8443/…"


def test_a_new_secret_is_whsec_and_random_and_its_hint_its_last_four() -> None:
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert first.startswith("whsec_") and len(first) == len("whsec_") + 43 and first != second
    assert webhooks.hint(first) == f"...{first[-4:]}"


def test_event_types_are_detail_types_in_dotted_snake_case() -> None:
    assert TYPES == ("incident.opened", "incident.escalated", "incident.resolved", "remediation.attempted",
                     "ticket.resolved", "charger.offline", "charger.online", "session.unpriced", "payment.failed",
                     "charger.excluded")
    assert event_type("PaymentIntentSucceeded") == "payment_intent.succeeded"
    with pytest.raises(ValueError):
        event_type("Opened")
    assert subscribed(["*"], "ticket.resolved") and subscribed(["incident.opened"], "incident.opened")
    assert not subscribed(["incident.opened"], "incident.resolved")


def test_an_unpriced_session_reaches_the_webhooks_subscribed_to_session_unpriced() -> None:
    from services.contracts.billing import SessionUnpriced
    from services.notifications import delivery
    from services.notifications.manifest import MANIFEST

    assert any("SessionUnpriced" in s.event_pattern["detail-type"] for s in MANIFEST.subscriptions)
    unpriced = SessionUnpriced(charge_point_id="CP-1", session_id="s-1", energy_wh=1200)
    envelope = {"detail-type": "SessionUnpriced", "detail": unpriced.model_dump()}
    hooks = delivery.Webhooks()
    hooks.all = [{"webhook_id": "w-1", "event_types": ["session.unpriced"]},
                 {"webhook_id": "w-2", "event_types": ["incident.opened"]}]
    targets = {t["target_id"]: t for t in delivery._targets(envelope, hooks)}
    assert set(targets) == {"w-1", "topic:alerts"} and targets["w-1"]["event_type"] == "session.unpriced"
    assert '"type":"session.unpriced"' in targets["w-1"]["payload"] and '"session_id":"s-1"' in targets["w-1"]["payload"]


def test_the_receivers_recipe_in_the_docs_verifies_what_we_sign() -> None:
    import re
    import time
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    (recipe,) = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    namespace: dict[str, object] = {}
    exec(recipe, namespace)  # noqa: S102 (the documentation's own code)
    verify = namespace["verify"]
    header = signing.sign(BODY, SECRET)
    assert verify(BODY, header, SECRET) and not verify(BODY, header, "whsec_wrong")  # type: ignore[operator]
    assert not verify(BODY + b" ", header, SECRET)  # type: ignore[operator]
    assert not verify(BODY, signing.sign(BODY, SECRET, int(time.time()) - 301), SECRET)  # type: ignore[operator]
