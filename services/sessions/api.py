"""REST: /id-tokens (who may charge) and /sessions (who charged, when, how much)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from boto3.dynamodb.conditions import Attr
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.sessions import store, transactions
from services.shared import clock
from services.shared.auth import Scope
from services.shared.dynamo import plain
from services.shared.rest import (
    ProblemDetail,
    ProblemError,
    allow,
    decode_token,
    encode_token,
    json_response,
    resolver,
    responses,
)

app = resolver()

IdTag = Annotated[str, Path(min_length=1, max_length=20, description="The OCPP idTag (1-20 characters)")]
Timestamp = Annotated[str, AfterValidator(clock.normalize)]


class IdTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["Accepted", "Blocked", "Expired", "Invalid"]
    expiry_date: Timestamp | None = Field(None, description="RFC 3339 with a zone; after it Authorize answers Expired")
    parent_id_tag: str | None = Field(None, min_length=1, max_length=20)


class IdToken(IdTokenIn):
    id: str
    id_tag: str
    updated_at: str


class IdTokenPage(BaseModel):
    items: list[IdToken]
    next_token: str | None


class Session(BaseModel):
    id: str
    transaction_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    status: Literal["active", "completed"]
    started_at: str
    stopped_at: str | None = None
    meter_start: int = Field(description="Wh")
    meter_stop: int | None = Field(None, description="Wh")
    energy_wh: int | None = None
    stop_reason: str | None = None
    flags: list[str] = Field(default_factory=list, description="e.g. id_tag_blocked, meter_backwards, start_missing")


class SampledValue(BaseModel):
    value: str
    measurand: str
    unit: str | None = None
    phase: str | None = None
    location: str | None = None
    context: str | None = None
    format: str | None = None


class MeterValue(BaseModel):
    timestamp: str
    sampled_value: list[SampledValue]


class SessionDetail(Session):
    meter_values: list[MeterValue] = Field(description="In the charger's time order, however late they arrived")


class SessionPage(BaseModel):
    items: list[Session]
    next_token: str | None


def _token(item: dict[str, Any]) -> IdToken:
    return IdToken(id=item["id_tag"], **{k: v for k, v in item.items() if k in IdToken.model_fields})


def _session(item: dict[str, Any]) -> dict[str, Any]:
    fields = {k: plain(v) for k, v in item.items() if k in Session.model_fields}
    return {**fields, "id": item["session_id"]}


@app.put("/id-tokens/<id_tag>", security=allow(Scope.ADMIN, Scope.OPERATOR),
         responses=responses({200: ("Updated", IdToken), 201: ("Created", IdToken)}, 422))
def put_id_token(id_tag: IdTag, token: IdTokenIn) -> Response[IdToken]:
    item = {"id_tag": id_tag, **token.model_dump(exclude_none=True), "updated_at": clock.iso(clock.now())}
    created = store.put_token(item)
    return json_response(201 if created else 200, _token(item))


@app.get("/id-tokens/<id_tag>", security=allow(*Scope), responses=responses({200: ("The token", IdToken)}, 404, 422))
def get_id_token(id_tag: IdTag) -> IdToken:
    item = store.get_token(id_tag)
    if item is None:
        raise ProblemError(404, f"No id token {id_tag!r}: create it with PUT /id-tokens/{id_tag}")
    return _token(item)


@app.delete("/id-tokens/<id_tag>", security=allow(Scope.ADMIN), responses=responses({204: ("Deleted", None)}, 404, 422))
def delete_id_token(id_tag: IdTag) -> Response[None]:
    if not store.delete_token(id_tag):
        raise ProblemError(404, f"No id token {id_tag!r}")
    return Response(204)


@app.get("/id-tokens", security=allow(*Scope),
         responses=responses({200: ("A page of id tokens, in storage order", IdTokenPage)}, 422))
def list_id_tokens(limit: Annotated[int, Query(ge=1, le=100)] = 50,
                   next_token: Annotated[str | None, Query()] = None) -> IdTokenPage:
    items, last = store.scan_tokens(limit, decode_token(next_token, id_tag=None))
    return IdTokenPage(items=[_token(i) for i in items], next_token=encode_token(last))


def _bound(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return clock.normalize(value)
    except ValueError:
        raise ProblemError(422, f"{name} must be an RFC 3339 date-time with a zone, e.g. 2025-01-31T00:00:00Z",
                           [ProblemDetail(path=f"query.{name}", message="not an RFC 3339 date-time")]) from None


@app.get("/sessions", security=allow(*Scope), responses=responses({200: (
    "A page of sessions: one charger's by transaction id, else in storage order; from/to bound started_at",
    SessionPage)}, 422))
def list_sessions(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48)] = None,
    id_tag: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    status: Annotated[Literal["active", "completed"] | None, Query()] = None,
    from_: Annotated[str | None, Query(alias="from", description="started_at at or after (RFC 3339)")] = None,
    to: Annotated[str | None, Query(description="started_at before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> SessionPage:
    start, end = _bound("from", from_), _bound("to", to)
    conditions = [c for c in (
        Attr("id_tag").eq(id_tag) if id_tag else None,
        Attr("status").eq(status) if status else None,
        Attr("started_at").gte(start) if start else None,
        Attr("started_at").lt(end) if end else None,
    ) if c is not None]
    condition = None
    for c in conditions:
        condition = c if condition is None else condition & c
    start_key = decode_token(next_token, charge_point_id=charge_point_id, transaction_id=None) if next_token else None
    if start_key is not None:
        if not start_key["transaction_id"].lstrip("-").isdigit() or len(start_key["transaction_id"]) > 19:
            raise ProblemError(422, "next_token is not one this route gave out",
                               [ProblemDetail(path="query.next_token", message="unknown token")])
        start_key["transaction_id"] = int(start_key["transaction_id"])
    items, last = store.query_sessions(charge_point_id, limit, start_key, condition)
    token = encode_token({"charge_point_id": last["charge_point_id"], "transaction_id": str(last["transaction_id"])}) if last else None
    return SessionPage(items=[Session(**_session(i)) for i in items], next_token=token)


@app.get("/sessions/<session_id>", security=allow(*Scope),
         responses=responses({200: ("The session with its meter values", SessionDetail)}, 404, 422))
def get_session(session_id: Annotated[str, Path(max_length=128)]) -> SessionDetail:
    key = transactions.session_key(session_id)
    item = store.get_session(*key) if key else None
    if item is None:
        raise ProblemError(404, f"No session {session_id!r}")
    samples = [MeterValue(timestamp=s["timestamp"], sampled_value=s["sampled_value"]) for s in transactions.samples_of(item)]
    return SessionDetail(**_session(item), meter_values=samples)


