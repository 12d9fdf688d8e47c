"""REST: /id-tokens (who may charge), /sessions (who charged, when, how much) and /reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.models import Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from boto3.dynamodb.conditions import Attr
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from services.contracts.sessions import PriceWindow
from services.sessions import accounts, authorization, availability_api, plausibility, reservations, store, transactions
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
    query_time,
    resolver,
    responses,
)
from services.shared.settings import settings

app = resolver()
ID_TOKENS, SESSIONS, RESERVATIONS = "Id tokens", "Sessions", "Reservations"
TAGS = {  # each tag of this service's routes, described at the top of the OpenAPI document
    ID_TOKENS: (
        "Who may charge: the OCPP id tokens (RFID cards, app tokens), each an id and a type, and their status, which "
        "Authorize, StartTransaction and TransactionEvent answer from. A token the CSMS does not know is Invalid."
    ),
    SESSIONS: (
        "Who charged, where, when and how much: one session per OCPP transaction, with its meter values, flags "
        "(an id tag that was not accepted, a meter that went backwards, a lost start) and, for one whose figures "
        "cannot be right, its settlement by an operator."
    ),
    RESERVATIONS: (
        "EVSEs held for a token or a token group until an expiry: made by POST /reservations (pending until the "
        "charger answers its ReserveNow) or by a charger's answer to an operator's ReserveNow (POST "
        "/chargers/{id}/commands); ended by DELETE (CancelReservation), by the charger (2.0.1 "
        "ReservationStatusUpdate), by its expiry, or used by the transaction that started with it (docs/reservations.md)."
    ),
}
TAGS.update(availability_api.TAGS)
app.configure_openapi(tags=[Tag(name=name, description=text) for name, text in TAGS.items()])
# Drivers' view of connectors (services/sessions/availability_api.py).
app.include_router(availability_api.router)

IdTag = Annotated[str, Path(min_length=1, max_length=36, description=(
    "The OCPP idToken (2.0.1, 1-36 characters) or idTag (1.6, up to 20)"))]
TokenType = Annotated[authorization.TokenType, Query(alias="type", description=(
    "The token's type (OCPP 2.0.1's IdTokenEnumType). A 1.6 idTag is looked up as ISO14443, then Central"))]
Timestamp = Annotated[str, AfterValidator(clock.normalize)]
SessionId = Annotated[str, Path(max_length=128, description="The session's id (ses_...)")]
Status = Literal["active", "completed", "implausible", "void"]


class IdTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["Accepted", "Blocked", "Expired", "Invalid"]
    expiry_date: Timestamp | None = Field(None, description="RFC 3339 with a zone; after it Authorize answers Expired")
    parent_id_tag: str | None = Field(None, min_length=1, max_length=20, description=(
        "The group token (up to 20 characters, which 1.6 answers): 1.6's parentIdTag, 2.0.1's groupIdToken, of type Central"))
    local_list: bool = Field(False, description=(
        "true: the token is on every charger's local authorization list (SendLocalList), so a charger accepts it "
        "offline too; a change of it (or its removal) is sent to every charger"))
    account_id: str | None = Field(None, pattern=r"^acct_[0-9a-f]{24}$", description=(
        "The billing account the token charges to (POST /accounts): a session it starts is paid with the account's "
        "card, and while the account is blocked (a failed payment) the token is answered Blocked"))
    charging_priority: int = Field(0, ge=0, le=9, description=(
        "0 (the default, lowest) to 9: where a site's power is short, load management fills the sessions of higher "
        "priorities first; a session keeps its token's priority from its start"))


class IdToken(IdTokenIn):
    id: str
    id_tag: str
    type: authorization.TokenType
    updated_at: str
    account_standing: Literal["good", "blocked"] | None = Field(None, description=(
        "The account's standing as billing last told it (null without an account)"))
    account_blocked_reason: str | None = Field(None, description="Why the account is blocked")
    payment_id: str | None = Field(None, description=(
        "An ad-hoc (QR) payment's token: the payment; it starts one session until `expiry_date`"))
    used_by: str | None = Field(None, description="The session an ad-hoc token started (then it is used up)")


class IdTokenPage(BaseModel):
    items: list[IdToken]
    next_token: str | None


class Settlement(BaseModel):
    void: bool = Field(description="true: the session is never billed")
    note: str | None = None
    settled_at: str
    settled_by: str = Field(description="The id of the API key that settled it")


class Cost(BaseModel):
    at: str = Field(description="Priced until (the charger's clock)")
    total_excl_vat: int = Field(description="Minor units of `currency`")
    total_incl_vat: int
    currency: str


class Session(BaseModel):
    id: str
    transaction_id: str = Field(description="The OCPP transaction id: 1.6's integer in decimal, 2.0.1's as the charger sent it")
    charge_point_id: str
    evse_id: int = Field(0, description=(
        "1.6's connector n is EVSE n, connector 1; 0 and 0 where the CSMS never saw the start (2.0.1: where no event "
        "named them; a connector of 0 is the EVSE as a whole)"))
    connector_id: int = 0
    id_tag: str = Field("", description="1.6's idTag, 2.0.1's idToken; empty when no event named one")
    status: Status = Field(description=(
        "active; completed (billable: plausible at its stop, or settled with an energy); implausible (ended with "
        "physically impossible figures: not billed until settled); void (settled as not to be billed)"))
    started_at: str
    stopped_at: str | None = None
    meter_start: int | None = Field(None, description=(
        "Wh; null for an active 2.0.1 session whose Started carried no energy register reading"))
    meter_stop: int | None = Field(None, description="Wh")
    energy_wh: int | None = Field(None, description="The Wh billed: metered, or settled; null unless completed")
    stop_reason: str | None = None
    id_tag_status: str | None = Field(None, description=(
        "What the CSMS answered the start's id tag (idTagInfo.status): Accepted, or Invalid, Blocked, Expired... when the "
        "charger charged a tag it did not accept; null when the CSMS never saw the start"))
    flags: list[str] = Field(default_factory=list, description="e.g. id_tag_blocked, meter_backwards, start_missing; quality "
                                                           "flags: no_consumption, low_energy, over_rated_power, short, "
                                                           "idle, stalled (docs/ocpp.md)")
    implausible_reasons: list[plausibility.Reason] = Field(
        default_factory=list, description="Why the stop's figures cannot be right; set when the session ended implausible")
    settlement: Settlement | None = Field(None, description="How an operator settled the implausible session")
    tariff_id: str | None = Field(None, description=(
        "The tariff locked at the start (docs/sessions.md): `default` version 0 is the built-in one; null: no tariff "
        "applies (flag `unpriced`)"))
    tariff_version: int | None = None
    time_zone: str | None = Field(None, description="The site's IANA time zone the tariff's times are read in")
    site_id: str | None = None
    token_group: str | None = Field(None, description="The id tag's group (parent id tag) when the session started")
    account_id: str | None = Field(None, description=(
        "The billing account of the id token that started it (billing holds and captures the payment on its card)"))
    ocpp_version: str | None = Field(None, description="The charger's OCPP version (ocpp1.6, ocpp2.0.1) when it started")
    charging_priority: int = Field(0, description="Its id token's charging priority when it started (0 to 9)")
    price_text: str | None = Field(None, description="The tariff's text the driver was shown")
    running_cost: Cost | None = Field(None, description="The latest running cost sent to the charger")
    final_cost: Cost | None = Field(None, description="What the charger was told the session cost")


class SettlementIn(BaseModel):
    """Exactly one outcome: an energy to bill, or void."""

    model_config = ConfigDict(extra="forbid")

    energy_wh: Annotated[StrictInt, Field(ge=0, le=plausibility.MAX_REGISTER_WH)] | None = Field(
        None, description="The Wh to bill: the session becomes completed and is invoiced once")
    void: StrictBool = Field(False, description="true: the session becomes void and is never invoiced")
    note: str | None = Field(None, min_length=1, max_length=500, description="Why, kept with the session")

    @model_validator(mode="after")
    def _one_outcome(self) -> SettlementIn:
        if self.void == (self.energy_wh is not None):
            raise ValueError("give either energy_wh (the Wh to bill) or \"void\": true, not both")
        return self


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
    return IdToken(id=item["id_token"], id_tag=item["id_token"],
                   **{k: v for k, v in item.items() if k in IdToken.model_fields})


def _session(item: dict[str, Any]) -> dict[str, Any]:
    fields = {k: plain(v) for k, v in item.items() if k in Session.model_fields}
    return {**fields, "id": item["session_id"]}


@app.put("/id-tokens/<id_tag>", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Create or replace an id token",
         tags=[ID_TOKENS],
         description=("Creates (201) or replaces (200) an id tag's record: its status (Accepted lets it charge; Blocked, "
                      "Expired and Invalid do not), an optional expiry after which Authorize answers Expired, and an "
                      "optional parent (group) tag, and whether it is on the chargers' local list (`local_list`). "
                      "`type` (default ISO14443) makes the token the pair (id, type). With `account_id` it charges "
                      "to that billing account and is answered Blocked while the account is. The "
                      "next Authorize, StartTransaction or TransactionEvent answers from it. Idempotent. "
                      "409 for a token that would join a local list already holding CSMS_LOCAL_LIST_MAX (default 1000) "
                      "tokens. 422 for an invalid body, e.g. an expiry without a time zone, or an unknown type, or an "
                      "account billing does not know (yet)."),
         responses=responses({200: ("Updated", IdToken), 201: ("Created", IdToken)}, 409, 422))
def put_id_token(id_tag: IdTag, token: IdTokenIn, token_type: TokenType = authorization.DEFAULT_TYPE) -> Response[IdToken]:
    item = {"id_token": id_tag, "type": token_type, **token.model_dump(exclude_none=True), "updated_at": clock.iso(clock.now())}
    if token.local_list:
        item["listed"] = store.LISTED
        if not _listed(id_tag, token_type) and store.list_full():
            raise ProblemError(409, f"The local list holds {settings().local_list_max} tokens, the most it may "
                                    "(CSMS_LOCAL_LIST_MAX): take a token off it (local_list false) first")
    standing = _standing(token.account_id) if token.account_id else None
    if standing is not None:
        item.update(accounts.token_standing(standing))
    created = store.put_token(item)
    if standing is not None:
        item = _standing_since(item, standing)
    return json_response(201 if created else 200, _token(item))


def _standing(account_id: str) -> dict[str, Any]:
    """The account's standing as billing last told sessions (AccountStanding); 422 for an account it never told of."""
    standing = store.get_standing(account_id, consistent=True)
    if standing is None:
        raise ProblemError(422, f"No account {account_id!r} (create it with POST /accounts; a new account is known "
                                "here a moment after it is created)")
    return standing


def _standing_since(item: dict[str, Any], standing: dict[str, Any]) -> dict[str, Any]:
    """The token with a standing that changed while it was put: the change's consumer may have looked for the
    account's tokens before this one was there."""
    latest = store.get_standing(item["account_id"], consistent=True)
    if latest is None or int(latest["version"]) <= int(standing["version"]):
        return item
    accounts.apply_standing([{"id_token": item["id_token"], "type": item["type"]}], latest, clock.now())
    return store.get_token(item["id_token"], item["type"], consistent=True) or item


def _listed(id_tag: str, token_type: str) -> bool:
    return bool((store.get_token(id_tag, token_type) or {}).get("local_list"))


@app.get("/id-tokens/<id_tag>", security=allow(*Scope), summary="Get an id token", tags=[ID_TOKENS],
         description=("One id token's record (`type` defaults to ISO14443): its status, expiry and parent tag. 404 for a "
                      "token the CSMS does not know."),
         responses=responses({200: ("The token", IdToken)}, 404, 422))
def get_id_token(id_tag: IdTag, token_type: TokenType = authorization.DEFAULT_TYPE) -> IdToken:
    item = store.get_token(id_tag, token_type)
    if item is None:
        raise ProblemError(404, f"No id token {id_tag!r} of type {token_type}: create it with "
                                f"PUT /id-tokens/{id_tag}?type={token_type}")
    return _token(item)


@app.delete("/id-tokens/<id_tag>", security=allow(Scope.ADMIN), summary="Delete an id token", tags=[ID_TOKENS],
            description=("Forgets an id token (`type` defaults to ISO14443): from then on Authorize and StartTransaction answer it Invalid (to refuse a "
                         "tag but keep its record, PUT it Blocked). Its sessions are kept. 404 for an unknown tag."),
            responses=responses({204: ("Deleted", None)}, 404, 422))
def delete_id_token(id_tag: IdTag, token_type: TokenType = authorization.DEFAULT_TYPE) -> Response[None]:
    if not store.delete_token(id_tag, token_type):
        raise ProblemError(404, f"No id token {id_tag!r} of type {token_type}")
    return Response(204)


@app.get("/id-tokens", security=allow(*Scope), summary="List id tokens", tags=[ID_TOKENS],
         description=("Every id tag's record, in storage order: follow `next_token` until it is null. 422 for a bad "
                      "`limit` or a `next_token` this route did not give out."),
         responses=responses({200: ("A page of id tokens, in storage order", IdTokenPage)}, 422))
def list_id_tokens(limit: Annotated[int, Query(ge=1, le=100)] = 50,
                   next_token: Annotated[str | None, Query()] = None) -> IdTokenPage:
    items, last = store.scan_tokens(limit, decode_token(next_token, id_token=None, type=None))
    return IdTokenPage(items=[_token(i) for i in items], next_token=encode_token(last))


def _bound(name: str, value: str | None) -> str | None:
    moment = query_time(name, value)
    return None if moment is None else clock.iso(moment)


def _page_key(key: dict[str, str]) -> bool:
    """A key DynamoDB takes: no empty or oversized key attribute, and a transaction id as long as one can be."""
    return all(0 < len(value) <= 256 for value in key.values()) and len(key["transaction_id"]) <= transactions.MAX_TRANSACTION_ID


_LIST_SESSIONS = (
    "Sessions, filtered by charger, id tag, status and start time. With `charge_point_id` it reads that charger's "
    "sessions oldest started first; without, it is a filtered scan in storage order. `from` (inclusive) and `to` "
    "(exclusive) bound `started_at`. `?status=implausible` lists the sessions waiting for an operator to settle them. "
    "Follow `next_token` until it is null; a page may hold fewer than `limit` sessions and still have a next one. "
    "422 for a date-time without a zone, a bad `limit`, or a `next_token` given out for other filters.")


@app.get("/sessions", security=allow(*Scope), summary="List sessions", description=_LIST_SESSIONS, tags=[SESSIONS],
         responses=responses({200: (
    "A page of sessions: one charger's oldest started first, else in storage order; from/to bound started_at",
    SessionPage)}, 422))
def list_sessions(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="Only this charger's sessions")] = None,
    id_tag: Annotated[str | None, Query(min_length=1, max_length=36, description="Only this id tag's sessions")] = None,
    status: Annotated[Status | None, Query(description="Only sessions in this status")] = None,
    from_: Annotated[str | None, Query(alias="from", description="started_at at or after (RFC 3339)")] = None,
    to: Annotated[str | None, Query(description="started_at before (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> SessionPage:
    start, end = _bound("from", from_), _bound("to", to)
    if start is not None and end is not None and end < start:
        return SessionPage(items=[], next_token=None)
    condition = None
    for c in (Attr("id_tag").eq(id_tag) if id_tag else None, Attr("status").eq(status) if status else None):
        if c is not None:
            condition = c if condition is None else condition & c
    names = store.PAGE_KEY if charge_point_id is None else store.PAGE_KEY_BY_START
    start_key = decode_token(next_token, _page_key, **{name: charge_point_id if name == "charge_point_id" else None
                                                        for name in names})
    within = start_key is None or "started_at" not in start_key or (
        (start is None or start <= start_key["started_at"]) and (end is None or start_key["started_at"] < end))
    if not within:
        raise ProblemError(422, "next_token is not one this route gave out for these from and to",
                           [ProblemDetail(path="query.next_token", message="outside from and to")])
    items, last = store.query_sessions(charge_point_id, limit, start_key, condition, start, end)
    return SessionPage(items=[Session(**_session(i)) for i in items], next_token=encode_token(last))


@app.get("/sessions/<session_id>", security=allow(*Scope), summary="Get a session with its meter values", tags=[SESSIONS],
         description=("One session: where and with which id tag it ran, its meter readings and energy, its status and "
                      "flags, and every meter value the charger sent for it, in the charger's time order however late "
                      "they arrived. 404 for an unknown session id."),
         responses=responses({200: ("The session with its meter values", SessionDetail)}, 404, 422))
def get_session(session_id: SessionId) -> SessionDetail:
    key = transactions.session_key(session_id)
    item = store.get_session(*key) if key else None
    if item is None:
        raise ProblemError(404, f"No session {session_id!r}")
    samples = [MeterValue(timestamp=s["timestamp"], sampled_value=s["sampled_value"]) for s in transactions.samples_of(item)]
    return SessionDetail(**_session(item), meter_values=samples)


_SETTLE = ("Settles a session that ended `implausible` (its stop's figures cannot be right: `implausible_reasons`), "
           "which is not billed until then: `{\"energy_wh\": N}` bills N Wh (the session becomes completed and is "
           "invoiced once), `{\"void\": true}` bills nothing, ever. An optional `note` says why. A session is settled once: "
           "409 for a session that does not await settlement (active, completed, or settled already), so a retried "
           "request cannot bill twice. 404 for an unknown session id.")


@app.post("/sessions/<session_id>/settle", summary="Settle an implausible session", description=_SETTLE, tags=[SESSIONS],
          security=allow(Scope.ADMIN, Scope.OPERATOR),
          responses=responses({200: ("The session, settled", Session)}, 404, 409, 422))
def settle_session(session_id: SessionId, settlement: SettlementIn) -> Session:
    key = transactions.session_key(session_id)
    if key is None:
        raise ProblemError(404, f"No session {session_id!r}")
    how = {"void": settlement.void, "settled_at": clock.iso(clock.now()),
           "settled_by": app.current_event.raw_event["requestContext"]["authorizer"]["key_id"],
           **({"note": settlement.note} if settlement.note else {})}
    outcome = {"status": "void"} if settlement.void else {"status": "completed", "energy_wh": settlement.energy_wh}
    item = store.settle_session(*key, {**outcome, "settlement": how})
    if item is None:
        found = store.get_session(*key)
        if found is None:
            raise ProblemError(404, f"No session {session_id!r}")
        raise ProblemError(409, f"Session {session_id!r} is {found['status']}: only an implausible session awaits settlement")
    return Session(**_session(item))


ReservationStatus = Literal["pending", "reserved", "refused", "cancelled", "expired", "removed", "used"]


class ReservationToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: str = Field(min_length=1, max_length=36, description=(
        "The id token (2.0.1: up to 36 characters; a 1.6 charger's idTag: up to 20)"))
    type: authorization.TokenType | None = Field(None, description=(
        "Its type (2.0.1's IdTokenEnumType); absent: a 1.6 idTag's lookup (ISO14443, then Central)"))


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge_point_id: str = Field(min_length=1, max_length=48)
    evse_id: int = Field(0, ge=0, le=1000, description="The EVSE (1.6: the connector); 0 or absent: any of the charger's")
    id_token: ReservationToken | None = Field(None, description="The token the EVSE is held for")
    group_id_token: str | None = Field(None, min_length=1, max_length=20, description=(
        "The group (1.6 parentIdTag, 2.0.1 groupIdToken) whose every token may use it, with or without `id_token`"))
    expiry: Timestamp = Field(description="RFC 3339 with a zone: in the future, at most 24 hours ahead")

    @model_validator(mode="after")
    def _someone(self) -> ReservationIn:
        if self.id_token is None and self.group_id_token is None:
            raise ValueError("id_token or group_id_token: whom the EVSE is held for")
        return self


class Reservation(BaseModel):
    id: str = Field(description="{reservation id}@{charge point id}: a reservation id is its charger's")
    charge_point_id: str
    reservation_id: int
    evse_id: int = Field(description="1.6's connector n is EVSE n, connector 1; 0: any of the charger's")
    connector_id: int
    connector_type: str | None = Field(None, description="2.0.1: the connector type asked for")
    id_token: str
    token_type: str | None = Field(None, description="2.0.1's idToken type; null for 1.6")
    group_id_token: str | None = None
    account_id: str | None = Field(None, description="The token's billing account, where sessions knows it")
    expiry_date: str | None = None
    status: ReservationStatus = Field(description=(
        "pending (made, its charger has not answered yet); reserved (in force); refused (the charger's `answer` says why: Faulted, Occupied, Rejected, Unavailable); "
        "cancelled (CancelReservation accepted); expired (past its expiry, or the charger said so); removed (the "
        "charger removed it); used (a transaction started with it: `transaction_id`)"))
    answer: str | None = Field(None, description=(
        "The charger's answer to ReserveNow, or the command's error where none came (e.g. Timeout); null while pending"))
    transaction_id: str | None = None
    cancel_requested_at: str | None = Field(None, description="When DELETE asked for it to be cancelled")
    updated_at: str
    ended_at: str | None = None


class ReservationPage(BaseModel):
    items: list[Reservation]
    next_token: str | None


def _reservation(item: dict[str, Any]) -> Reservation:
    fields = {k: plain(v) for k, v in item.items() if k in Reservation.model_fields}
    return Reservation(**{**fields, "id": reservations.public_id(item["charge_point_id"], item["reservation_id"]),
                          "status": reservations.status_at(item, clock.now())})


@app.get("/reservations", security=allow(*Scope), summary="List reservations", tags=[RESERVATIONS],
         description=("A charger's reservations by reservation id, or every reservation of one `status` (least "
                      "recently changed first), or a charger's of one status. Follow `next_token` until it is null. "
                      "422 without either filter."),
         responses=responses({200: ("A page of reservations", ReservationPage)}, 422))
def list_reservations(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="The charger's reservations")] = None,
    status: Annotated[ReservationStatus | None, Query(description="Only the reservations of this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query()] = None,
) -> ReservationPage:
    if charge_point_id is None and status is None:
        raise ProblemError(422, "Give charge_point_id, status or both: the reservations of a charger, or of a status")
    if charge_point_id is None:
        start = decode_token(next_token, lambda key: 0 < len(key["reservation_id"]) <= 20, status=status,
                             charge_point_id=None, reservation_id=None, updated_at=None)
    else:
        start = decode_token(next_token, lambda key: 0 < len(key["reservation_id"]) <= 20,
                             charge_point_id=charge_point_id, reservation_id=None)
    items, last = store.query_reservations(charge_point_id, status, limit, start)
    return ReservationPage(items=[_reservation(i) for i in items], next_token=encode_token(last))


@app.post("/reservations", security=allow(Scope.ADMIN, Scope.OPERATOR), summary="Reserve an EVSE", tags=[RESERVATIONS],
          description=(
              "Holds an EVSE (or any EVSE of the charger: `evse_id` 0 or absent) for a token or a token group until "
              "`expiry`. The reservation is `pending` until the charger answers the ReserveNow it is sent (in its "
              "OCPP version's shape, with an id the CSMS picks): then `reserved`, or `refused` with the answer. 404 "
              "for a charger sessions has never heard of, 409 for one that never connected (its OCPP version is not "
              "known), 422 for an expiry in the past or over 24 hours ahead, or a token that is unknown or may not "
              "charge (blocked, expired)."),
          responses=responses({201: ("The reservation, pending", Reservation)}, 404, 409, 422))
def create_reservation(reservation: ReservationIn) -> Response[Reservation]:
    from services.sessions import reserving

    now = clock.now()
    expiry = clock.parse(reservation.expiry)
    problem = reservations.expiry_problem(expiry, now)
    if problem is not None:
        raise ProblemError(422, problem)
    if reservation.evse_id > settings().max_connector_id:
        raise ProblemError(422, f"evse_id: must be 0 to {settings().max_connector_id}")
    version = _charger_version(reservation.charge_point_id)
    if version == "ocpp1.6" and reservation.id_token and len(reservation.id_token.id_token) > 20:
        raise ProblemError(422, f"id_token: {reservation.charge_point_id!r} speaks OCPP 1.6, whose idTag is at most 20 "
                                "characters")
    token = _reservable(reservation.id_token, now) if reservation.id_token else None
    request = reservations.Request(
        charge_point_id=reservation.charge_point_id, evse_id=reservation.evse_id, expiry=expiry,
        id_token=token["id_token"] if token else None, token_type=token["type"] if token else None,
        group_id_token=reservation.group_id_token)
    item = reserving.make(request, version, now, account_id=(token or {}).get("account_id"),
                          site_id=_site(reservation.charge_point_id))
    return json_response(201, _reservation(item))


def _charger_version(charge_point_id: str) -> str:
    """The charger's OCPP version, as its connections told sessions (its local-list record)."""
    charger = store.get_list_charger(charge_point_id, consistent=False)
    if charger is not None and charger.get("ocpp_version"):
        return str(charger["ocpp_version"])
    if _site(charge_point_id) is None:
        raise ProblemError(404, f"No charger {charge_point_id!r} is known: it has never connected nor been placed at a site")
    raise ProblemError(409, f"Charger {charge_point_id!r} never connected, so its OCPP version is not known: reserve "
                            "once it has connected")


def _site(charge_point_id: str) -> str | None:
    from services.sessions import tariff_projection

    return tariff_projection.get_many([f"charger#{charge_point_id}"]).get(f"charger#{charge_point_id}", {}).get("site_id")


def _reservable(token: ReservationToken, now: datetime) -> dict[str, Any]:
    """The token's record if it may charge now; 422 saying why not."""
    record = (store.get_token(token.id_token, token.type) if token.type else
              authorization.of_id_tag(store.tokens_of(token.id_token)))
    if record is None:
        raise ProblemError(422, f"id_token: no token {token.id_token!r}"
                                f"{' of type ' + token.type if token.type else ''} (register it with PUT /id-tokens)")
    status = authorization.status_of(record, now)
    if status != "Accepted":
        raise ProblemError(422, f"id_token: token {token.id_token!r} is {status} and may not charge, so it may not reserve")
    return record


@app.delete("/reservations/<reservation_id>", security=allow(Scope.ADMIN, Scope.OPERATOR),
            summary="Cancel a reservation", tags=[RESERVATIONS],
            description=("Asks for a reservation in force to be cancelled: its charger is sent CancelReservation (a "
                         "pending one's once the charger accepted it), and its acceptance makes it `cancelled`. "
                         "Idempotent. 404 for an unknown reservation, 409 for one that has ended."),
            responses=responses({202: ("The reservation, its cancellation asked for", Reservation)}, 404, 409, 422))
def cancel_reservation(reservation_id: Annotated[str, Path(min_length=3, max_length=80, description=(
        "{reservation id}@{charge point id}, e.g. 7@CP-1"))]) -> Response[Reservation]:
    from services.sessions import reserving

    key = _found_reservation(reservation_id)
    item = reserving.cancel(*key, clock.now())
    if item is None:
        ended = store.get_reservation(*key) or {}
        raise ProblemError(409, f"Reservation {reservation_id!r} is {ended.get('status')}: only one in force is cancelled")
    return json_response(202, _reservation(item))


def _found_reservation(reservation_id: str) -> tuple[str, str]:
    key = reservations.key_of(reservation_id)
    if key is None or store.get_reservation(*key) is None:
        raise ProblemError(404, f"No reservation {reservation_id!r}: its id is {{reservation id}}@{{charge point id}}, "
                                "e.g. 7@CP-1")
    return key


@app.get("/reservations/<reservation_id>", security=allow(*Scope), summary="Get a reservation", tags=[RESERVATIONS],
         description="One reservation by its id ({reservation id}@{charge point id}). 404 for an unknown one.",
         responses=responses({200: ("The reservation", Reservation)}, 404, 422))
def get_reservation(reservation_id: Annotated[str, Path(min_length=3, max_length=80, description=(
        "{reservation id}@{charge point id}, e.g. 7@CP-1"))]) -> Reservation:
    key = reservations.key_of(reservation_id)
    item = store.get_reservation(*key) if key else None
    if item is None:
        raise ProblemError(404, f"No reservation {reservation_id!r}: its id is {{reservation id}}@{{charge point id}}, "
                                "e.g. 7@CP-1")
    return _reservation(item)


class PriceQuote(BaseModel):
    tariff_id: str | None = Field(description="The tariff a session starting now would lock; null: it would be unpriced")
    tariff_version: int | None = Field(description="Its version (0 of `default`: the built-in one from the price settings)")
    price_text: str | None = Field(description="What the driver is shown (the tariff's text)")
    time_zone: str = Field(description="The site's, in which the tariff's times of day are read")
    site_id: str | None


@app.get("/price-quotes", security=allow(*Scope), summary="The price a session starting now would lock",
         tags=[SESSIONS], description=(
             "What sessions would lock for a session starting now at this charger (and EVSE, with this token group): "
             "the tariff and version, the text its driver is shown, and the site's time zone. It reads sessions' own "
             "copy of tariffs, assignments and sites, which billing's and connectivity's events keep: seconds after "
             "a change, this answer and GET /tariff-resolutions (billing's) agree. 422 without `charge_point_id`."),
         responses=responses({200: ("The tariff a session would lock", PriceQuote)}, 422))
def get_price_quote(
    charge_point_id: Annotated[str, Query(min_length=1, max_length=48, description="The charger")],
    evse_id: Annotated[int | None, Query(ge=1, le=1000, description="The EVSE (1.6: the connector)")] = None,
    token_group: Annotated[str | None, Query(min_length=1, max_length=36, description="The id token's group")] = None,
) -> PriceQuote:
    from services.sessions import pricing_lock

    lock = pricing_lock.lock(charge_point_id, evse_id, token_group, clock.now())
    return PriceQuote(tariff_id=lock.tariff_id, tariff_version=lock.tariff_version, price_text=lock.price_text,
                      time_zone=lock.time_zone, site_id=lock.site_id)


class ChargingNeedsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    energy_wh: StrictInt = Field(description="The energy (Wh) the driver still needs from now")
    departure_time: Timestamp = Field(description="RFC 3339 with a zone: when the driver leaves (within 7 days)")


class ChargingNeeds(BaseModel):
    energy_wh: int = Field(description="The energy still needed from `received_at`")
    departure_time: str
    origin: Literal["ev", "operator"] = Field(description="ev: the EV's NotifyEVChargingNeeds (2.0.1); operator: this API")
    received_at: str
    min_power_w: float | None = Field(None, description="The EV's least power (W), where it said it")
    max_power_w: float | None = Field(None, description="The EV's greatest power (W), where it said it")
    prices: list[PriceWindow] = Field(description=(
        "The energy prices (per kWh, VAT included) of the session's tariff from `received_at` to departure; empty "
        "when they do not vary"))
    currency: str | None = None
    version: int = Field(description="One higher with each need stated for the session")


_NEEDS = ("What the driver needs by when (`energy_wh`, `departure_time`, as the operator's app knows it): it replaces "
          "any need before it (the EV's own, from 2.0.1 NotifyEVChargingNeeds, too; the same need again changes "
          "nothing), and load management charges the session in the cheapest periods before departure "
          "(docs/smart-charging.md). 404 for an unknown session, 409 for one no longer active, 422 for a departure "
          "that passed or is over 7 days ahead, or an energy outside 1 Wh to 1 MWh.")


@app.put("/sessions/<session_id>/charging-needs", summary="State what a session needs by when", description=_NEEDS,
         tags=[SESSIONS], security=allow(Scope.ADMIN, Scope.OPERATOR),
         responses=responses({200: ("The needs stored", ChargingNeeds)}, 404, 409, 422))
def put_charging_needs(session_id: SessionId, needs: ChargingNeedsIn) -> ChargingNeeds:
    from services.sessions import charging_needs, needing

    now = clock.now()
    departure = clock.parse(needs.departure_time)
    problem = charging_needs.problem(needs.energy_wh, departure, now)
    if problem is not None:
        raise ProblemError(422, problem[1], [ProblemDetail(path=f"body.{problem[0]}", message=problem[1])])
    session = _active(session_id)
    stored = needing.state(session, charging_needs.Need(needs.energy_wh, departure), charging_needs.OPERATOR, now)
    if stored is None:
        raise ProblemError(409, f"Session {session_id!r} ended: needs are for an active session")
    return ChargingNeeds(**plain(stored))


@app.get("/sessions/<session_id>/charging-needs", summary="What a session needs by when", tags=[SESSIONS],
         security=allow(*Scope), description=(
             "The latest need stated for a session, by its EV (2.0.1 NotifyEVChargingNeeds) or the operator, with "
             "its tariff's prices to departure. 404 for an unknown session or one with no need stated."),
         responses=responses({200: ("The needs", ChargingNeeds)}, 404, 422))
def get_charging_needs(session_id: SessionId) -> ChargingNeeds:
    item = _found(session_id)
    if "needs" not in item:
        raise ProblemError(404, f"No needs stated for session {session_id!r}: PUT them, or the EV sends them")
    return ChargingNeeds(**plain(item["needs"]))


def _found(session_id: str) -> dict[str, Any]:
    key = transactions.session_key(session_id)
    item = store.get_session(*key) if key else None
    if item is None:
        raise ProblemError(404, f"No session {session_id!r}")
    return item


def _active(session_id: str) -> dict[str, Any]:
    item = _found(session_id)
    if item["status"] != "active":
        raise ProblemError(409, f"Session {session_id!r} is {item['status']}: needs are for an active session")
    return item
