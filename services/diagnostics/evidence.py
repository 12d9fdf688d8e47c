"""The evidence of chargers at risk (services/diagnostics/at_risk.py), projected from other services' events, and
each charger's latest evaluation.

Table `risk-evidence`, per charger (partition `charge_point_id`):

    ev#{at}#{event_id}  one fact (kind, problem_code, session_id, flags), `at` the event's time; it expires 35 days
                        after it (the rules look back 28)
    summary             the latest evaluation: score, every rule's finding with its evidence, evaluated_at,
                        next_change (when evidence next leaves a rule's window); while the score is above 0 also
                        `at_risk` and `rank`, the keys of the sparse GSI at-risk that lists the chargers at risk,
                        highest score first; it expires 35 days after its evaluation, as its facts do

A fact's key derives from its event, so a re-delivered event is one conditional put that fails, and events in any
order give the same items. Each event costs a put (the fact), a consistent Query of the charger's last 28 days of
facts (its latest MAX_FACTS), and a conditional put of the summary (and its GSI entry while at risk): of two evaluations racing, the
one that read last, which has every fact the other had, is kept. The list reads the GSI; a summary whose
next_change has passed is evaluated again when read (one Query and one put each), so old evidence stops counting.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from services.diagnostics import at_risk
from services.shared import aws, clock
from services.shared.dynamo import batch_get, condition_failed, page, plain

EVIDENCE = "risk-evidence"
AT_RISK = "at-risk"
SUMMARY = "summary"
RETENTION = timedelta(days=35)
# A charger that boots or faults every few seconds would make each of its events read tens of thousands of facts;
# its latest 2,000 hit every rule they can, and bound the cost of an event (about 1 MB read at the most).
MAX_FACTS = 2000
_LISTED = "yes"


def _table() -> Any:
    return aws.table(EVIDENCE)


def _key(fact: at_risk.Evidence) -> str:
    return f"ev#{clock.iso(fact.at)}#{fact.event_id}"


def record(charge_point_id: str, fact: at_risk.Evidence) -> dict[str, Any]:
    """Keeps a fact once and evaluates the charger again (also for a fact kept already: the delivery that kept it
    may have failed before its evaluation was saved); the charger's summary. A fact dated after now (a charger's
    clock ahead of ours) counts as of now, else it would stay out of every window and in the table for ever; its
    key keeps the event's own time, so a redelivery finds it kept."""
    at = min(fact.at, clock.now())
    item: dict[str, Any] = {"charge_point_id": charge_point_id, "item_key": _key(fact), "kind": fact.kind,
                            "at": clock.iso(at), "event_id": fact.event_id,
                            "expires_at": int((at + RETENTION).timestamp())}
    if fact.problem_code is not None:
        item["problem_code"] = fact.problem_code
    if fact.session_id is not None:
        item.update(session_id=fact.session_id, flags=list(fact.flags))
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(item_key)")
    except ClientError as error:
        if not condition_failed(error):
            raise
    now = clock.now()  # after the put: of evaluations racing, the one that read last has every fact
    return save(charge_point_id, evaluate(charge_point_id, now), now)


def facts(charge_point_id: str, now: datetime) -> list[at_risk.Evidence]:
    """The charger's facts of the rules' window, the latest MAX_FACTS (a Query, newest first; consistent: the fact
    just kept is among them)."""
    since = f"ev#{clock.iso(now - at_risk.WINDOW)}"
    items, _ = page(_table().query, {"KeyConditionExpression": Key("charge_point_id").eq(charge_point_id)
                                     & Key("item_key").between(since, "ev#~"), "ConsistentRead": True,
                                     "ScanIndexForward": False}, MAX_FACTS, None, ())
    return [at_risk.Evidence(kind=i["kind"], at=clock.parse(i["at"]), event_id=i["event_id"],
                             problem_code=i.get("problem_code"), session_id=i.get("session_id"),
                             flags=tuple(i.get("flags") or ())) for i in items]


def evaluate(charge_point_id: str, now: datetime) -> at_risk.Evaluation:
    return at_risk.evaluate(facts(charge_point_id, now), now)


def _rules(evaluation: at_risk.Evaluation) -> list[dict[str, Any]]:
    return [{**asdict(f), "latest": None if f.latest is None else clock.iso(f.latest)} for f in evaluation.findings]


def item_of(charge_point_id: str, evaluation: at_risk.Evaluation, now: datetime) -> dict[str, Any]:
    """The summary item of an evaluation: listed in the GSI while its score is above 0."""
    item: dict[str, Any] = {
        "charge_point_id": charge_point_id, "item_key": SUMMARY, "score": evaluation.score,
        # as JSON: evidence holds floats (ratios), which DynamoDB takes only as Decimal
        "findings": json.dumps(_rules(evaluation)), "session_flags": evaluation.session_flags,
        "evaluated_at": clock.iso(now), "expires_at": int((now + RETENTION).timestamp()),
        "next_change": None if evaluation.next_change is None else clock.iso(evaluation.next_change),
    }
    if evaluation.score > 0:
        latest = "" if evaluation.latest is None else clock.iso(evaluation.latest)
        item.update(at_risk=_LISTED, rank=f"{evaluation.score:05d}#{latest}#{charge_point_id}")
    return {k: v for k, v in item.items() if v is not None}


def save(charge_point_id: str, evaluation: at_risk.Evaluation, now: datetime) -> dict[str, Any]:
    """Writes the charger's summary unless one evaluated later is stored (then that one is kept: it read every
    fact this one read, and more); the summary kept, as the API shows it."""
    item = item_of(charge_point_id, evaluation, now)
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(evaluated_at) OR evaluated_at <= :now",
                          ExpressionAttributeValues={":now": item["evaluated_at"]})
    except ClientError as error:
        if not condition_failed(error):
            raise
        item = _table().get_item(Key={"charge_point_id": charge_point_id, "item_key": SUMMARY},
                                 ConsistentRead=True)["Item"]
    return summary_of(item)


def summary_of(item: dict[str, Any]) -> dict[str, Any]:
    """A stored summary as the API shows it: score, findings (every rule, hit or not), session_flags, evaluated_at,
    next_change."""
    fields = plain(item)
    return {"charge_point_id": fields["charge_point_id"], "score": int(fields["score"]),
            "findings": json.loads(fields["findings"]), "session_flags": fields.get("session_flags") or {},
            "evaluated_at": fields["evaluated_at"], "next_change": fields.get("next_change")}


def current(summary: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The summary, evaluated again first if evidence has left a window since it was saved."""
    if summary.get("next_change") and clock.parse(summary["next_change"]) <= now:
        return save(summary["charge_point_id"], evaluate(summary["charge_point_id"], now), now)
    return summary


# Pages of the index one answer reads at most: stale summaries that dropped to 0 make a page come up short.
MAX_PAGES = 10


def ranked(limit: int, now: datetime) -> list[dict[str, Any]]:
    """Up to `limit` chargers at risk, highest score first (then the most recent evidence), each current (one that
    dropped to 0 left out). A stored score only falls when evidence leaves its window, so the index is read page
    after page (at most MAX_PAGES) until `limit` current ones are found and no later entry can score higher."""
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"IndexName": AT_RISK, "KeyConditionExpression": Key("at_risk").eq(_LISTED),
                               "ScanIndexForward": False, "Limit": limit}
    for _ in range(MAX_PAGES):
        reply = _table().query(**request)
        items = reply.get("Items", [])
        found += [s for s in (current(summary_of(item), now) for item in items) if s["score"] > 0]
        found = ranking(found)[:limit]
        if "LastEvaluatedKey" not in reply or (
                len(found) == limit and items and int(items[-1]["rank"].split("#")[0]) <= found[-1]["score"]):
            break
        request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
    return found


def ranking(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Highest score first, then the most recent evidence among the rules hit."""
    def order(summary: dict[str, Any]) -> tuple[int, str]:
        return summary["score"], max((f["latest"] for f in summary["findings"] if f["hit"] and f["latest"]), default="")

    return sorted(found, key=order, reverse=True)


def summaries(charge_point_ids: list[str], now: datetime) -> list[dict[str, Any]]:
    """The current summaries of these chargers, those never evaluated left out."""
    keys = [{"charge_point_id": cp, "item_key": SUMMARY} for cp in charge_point_ids]
    return [current(summary_of(item), now) for item in batch_get(_table(), keys)]
