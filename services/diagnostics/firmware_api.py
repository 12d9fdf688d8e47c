"""REST: /diagnostic-uploads (a charger's logs, pulled remotely), /firmware-images and /firmware-campaigns.

A Router the diagnostics resolver includes (services/diagnostics/api.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.diagnostics import fleet, transfers, uploads
from services.shared import clock
from services.shared.auth import Scope
from services.shared.rest import ProblemDetail, ProblemError, allow, decode_token, encode_token, json_response, responses

router = Router()
UPLOADS = "Diagnostics uploads"
FIRMWARE = "Firmware"
TAGS = {
    UPLOADS: ("A charger's diagnostics, pulled without a visit: GetDiagnostics (1.6) or GetLog (2.0.1) with a short "
              "file URL into the diagnostics bucket, followed by the charger's status notifications; each upload "
              "has a download link once uploaded (files kept 90 days)."),
    FIRMWARE: ("Firmware images (uploaded through a presigned URL) and campaigns that roll one out: UpdateFirmware "
               "to each charger at a set pace inside a window, each charger's progress, and a stop when too many "
               "fail."),
}
_WRITE = allow(Scope.ADMIN, Scope.OPERATOR)
_READ = allow(*Scope)
TransferId = Annotated[str, Path(min_length=1, max_length=64, description="The id")]
Limit = Annotated[int, Query(ge=1, le=100)]
NextToken = Annotated[str | None, Query(max_length=1024)]


def _time(value: str | None) -> str | None:
    """An RFC 3339 time as the CSMS writes it (UTC, milliseconds), so that times compare as strings."""
    return None if value is None else clock.normalize(value)


def _base() -> str:
    """The public API's URL as chargers reach it (CSMS_PUBLIC_URL), else as this request reached it: the file URLs
    chargers get are under it."""
    from services.shared.rest import request_base_url
    from services.shared.settings import settings

    return settings().public_url or request_base_url(router.current_event.raw_event)


def _authorizer() -> dict[str, Any]:
    return (router.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}


def _key_id() -> str:
    return str(_authorizer().get("key_id", ""))


def _may_download() -> bool:
    """Diagnostics logs may hold id tags and other personal data: their links go to admin and operator keys only."""
    return bool(set(str(_authorizer().get("scopes", "")).split()) & {Scope.ADMIN.value, Scope.OPERATOR.value})


def _known(charge_point_ids: list[str], path: str) -> None:
    unknown = [cp for cp in charge_point_ids if not fleet.known(cp)]
    if unknown:
        raise ProblemError(422, f"No charger {', '.join(map(repr, unknown[:10]))} known: send chargers that have "
                                "connected", [ProblemDetail(path=path, message="unknown charger")])


def _found(item: dict[str, Any] | None, what: str, transfer_id: str) -> dict[str, Any]:
    if item is None:
        raise ProblemError(404, f"No {what} {transfer_id!r}")
    return item


def _page(next_token: str | None, **expected: str | None) -> dict[str, Any] | None:
    return decode_token(next_token, lambda key: all(0 < len(v) <= 256 for v in key.values()),
                        transfer_id=None, item_key=None, created_at=None, **expected)


# --- diagnostics uploads ---------------------------------------------------------------------

class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    charge_point_id: str = Field(min_length=1, max_length=48)
    from_: str | None = Field(None, alias="from", description="The oldest log entry wanted (RFC 3339)")
    to: str | None = Field(None, description="The latest log entry wanted (RFC 3339)")

    @field_validator("from_", "to")
    @classmethod
    def _times(cls, value: str | None) -> str | None:
        return _time(value)

    @model_validator(mode="after")
    def _ordered(self) -> "UploadRequest":
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from is after to")
        return self


class DiagnosticUpload(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    charge_point_id: str
    status: Literal["requested", "accepted", "uploading", "uploaded", "failed", "unavailable"] = Field(
        description="requested, accepted (the charger named its file), uploading, uploaded; failed (refused, "
                    "unanswered or the upload failed), unavailable (a 1.6 charger with no diagnostics)")
    action: str = Field(description="GetDiagnostics (1.6) or GetLog (2.0.1)")
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    file_name: str | None = Field(None, description="The file the charger named in its answer")
    charger_status: str | None = Field(None, description="The charger's latest status notification, verbatim")
    reason: str | None = Field(None, description="failed: why")
    size: int | None = Field(None, description="Bytes, once uploaded")
    download_url: str | None = Field(None, description="Once uploaded: a presigned link, valid for an hour (to admin "
                                                       "and operator keys only: logs may hold personal data)")
    created_at: str
    updated_at: str


class UploadPage(BaseModel):
    items: list[DiagnosticUpload]
    next_token: str | None


def _upload(item: dict[str, Any]) -> DiagnosticUpload:
    uploaded = item["status"] == uploads.UPLOADED
    size = (item["size"] if "size" in item else transfers.object_size(item["object_key"])) if uploaded else None
    return DiagnosticUpload(
        id=item["transfer_id"], **{name: item.get(name) for name in ("charge_point_id", "status", "action", "to",
                                                                      "file_name", "charger_status", "reason",
                                                                      "created_at", "updated_at")},
        from_=item.get("from"), size=size,
        download_url=transfers.presigned("GET", item["object_key"]) if size is not None and _may_download() else None)


@router.post("/diagnostic-uploads", security=_WRITE, summary="Pull a charger's diagnostics", tags=[UPLOADS],
             description=("Asks the charger to upload its diagnostics (1.6 GetDiagnostics, 2.0.1 GetLog of a "
                          "DiagnosticsLog, for the charger's version on its latest connection) to a short file URL "
                          "into the diagnostics bucket; follow it on Location. 422 for a charger never heard of or "
                          "`from` after `to`; 409 for one whose OCPP version is not known yet (it is learnt at its "
                          "next connection)."),
             responses=responses({202: ("Requested; Location is the upload", DiagnosticUpload)}, 409, 422))
def post_upload(request: UploadRequest) -> DiagnosticUpload:
    _known([request.charge_point_id], "body.charge_point_id")
    try:
        item = transfers.request_upload(request.charge_point_id, request.from_, request.to, _base())
    except transfers.VersionUnknown:
        raise ProblemError(409, f"Charger {request.charge_point_id!r}: version not known yet: it is learnt at the "
                                "charger's next connection; ask again then") from None
    return json_response(202, _upload(item), {"Location": f"/diagnostic-uploads/{item['transfer_id']}"})  # type: ignore[return-value]


@router.get("/diagnostic-uploads", security=_READ, summary="List diagnostics uploads", tags=[UPLOADS],
            description="Uploads newest first, of one charger or all; follow `next_token` until it is null.",
            responses=responses({200: ("A page of uploads", UploadPage)}, 422))
def list_uploads(
    charge_point_id: Annotated[str | None, Query(min_length=1, max_length=48, description="Only this charger's")] = None,
    limit: Limit = 20,
    next_token: NextToken = None,
) -> UploadPage:
    start = _page(next_token, **({"charge_point_id": charge_point_id} if charge_point_id else {"kind": "upload"}))
    items, last = transfers.upload_listing(charge_point_id, limit, start)
    return UploadPage(items=[_upload(i) for i in items], next_token=encode_token(last))


@router.get("/diagnostic-uploads/<upload_id>", security=_READ, summary="Get a diagnostics upload", tags=[UPLOADS],
            description="One upload, with its download link once uploaded. 404 for an unknown id.",
            responses=responses({200: ("The upload", DiagnosticUpload)}, 404, 422))
def get_upload(upload_id: TransferId) -> DiagnosticUpload:
    return _upload(_found(transfers.upload(upload_id), "diagnostics upload", upload_id))


# --- firmware images -------------------------------------------------------------------------

class ImageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    version: str | None = Field(None, min_length=1, max_length=64, description="The firmware's version")
    description: str | None = Field(None, max_length=2000)


class FirmwareImage(BaseModel):
    id: str
    name: str
    version: str | None = None
    description: str | None = None
    size: int | None = Field(None, description="Bytes once uploaded; null until then")
    created_at: str


class ImageUpload(FirmwareImage):
    upload_url: str = Field(description="PUT the image's bytes here within the hour (a presigned S3 URL)")


class ImagePage(BaseModel):
    items: list[FirmwareImage]
    next_token: str | None


def _image(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["transfer_id"], "size": transfers.object_size(item["object_key"]),
            **{name: item.get(name) for name in ("name", "version", "description", "created_at")}}


@router.post("/firmware-images", security=_WRITE, summary="Add a firmware image", tags=[FIRMWARE],
             description="Registers an image and answers the presigned URL to PUT its bytes to (valid an hour).",
             responses=responses({201: ("Registered; upload to upload_url", ImageUpload)}, 422))
def post_image(request: ImageRequest) -> ImageUpload:
    item = transfers.create_image(request.name, request.version, request.description)
    body = ImageUpload(**_image(item) | {"size": None}, upload_url=transfers.presigned("PUT", item["object_key"]))
    return json_response(201, body, {"Location": f"/firmware-images/{item['transfer_id']}"})  # type: ignore[return-value]


@router.get("/firmware-images", security=_READ, summary="List firmware images", tags=[FIRMWARE],
            description="Firmware images, newest first, each with its size once uploaded; follow `next_token` until it is null.",
            responses=responses({200: ("A page of images", ImagePage)}, 422))
def list_images(limit: Limit = 20, next_token: NextToken = None) -> ImagePage:
    items, last = transfers.image_listing(limit, _page(next_token, kind="image"))
    return ImagePage(items=[FirmwareImage(**_image(i)) for i in items], next_token=encode_token(last))


@router.get("/firmware-images/<image_id>", security=_READ, summary="Get a firmware image", tags=[FIRMWARE],
            description="One image, with its size once uploaded. 404 for an unknown id.",
            responses=responses({200: ("The image", FirmwareImage)}, 404, 422))
def get_image(image_id: TransferId) -> FirmwareImage:
    return FirmwareImage(**_image(_found(transfers.image(image_id), "firmware image", image_id)))


# --- firmware campaigns ----------------------------------------------------------------------

class Window(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", description="RFC 3339; nothing is sent before")
    to: str = Field(description="RFC 3339; nothing is sent after, and the file URL lasts a day longer")

    @field_validator("from_", "to")
    @classmethod
    def _times(cls, value: str) -> str | None:
        return _time(value)

    @model_validator(mode="after")
    def _ordered(self) -> "Window":
        if self.from_ >= self.to:
            raise ValueError("from is not before to")
        return self


class Rollout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_minute: int = Field(ge=1, le=1000, description="At most this many chargers are sent the update a minute")
    window: Window | None = Field(None, description="When updates may be sent; default: from now, for 7 days")


class CampaignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    charge_point_ids: list[Annotated[str, Field(min_length=1, max_length=48)]] | None = Field(
        None, min_length=1, max_length=1000, description="The chargers; or site_id")
    site_id: str | None = Field(None, min_length=1, max_length=64, description="Every charger placed at the site")
    image: str = Field(min_length=1, max_length=64, description="The firmware image's id (uploaded)")
    rollout: Rollout
    stop_on_failure_share: float = Field(
        ge=0, le=1, description="The campaign stops itself once more than this share of its chargers failed (0: at "
                                "the first failure, 1: never)")

    @model_validator(mode="after")
    def _targets(self) -> "CampaignRequest":
        if (self.charge_point_ids is None) == (self.site_id is None):
            raise ValueError("send exactly one of charge_point_ids and site_id")
        if self.charge_point_ids and len(set(self.charge_point_ids)) != len(self.charge_point_ids):
            raise ValueError("charge_point_ids holds a charger twice")
        return self


State = Literal["pending", "sent", "downloading", "downloaded", "installing", "installed", "failed", "not_sent"]


class CampaignCharger(BaseModel):
    charge_point_id: str
    state: State
    charger_status: str | None = Field(None, description="The charger's latest FirmwareStatusNotification, verbatim")
    ocpp_version: str | None = None
    reason: str | None = Field(None, description="failed: `timeout` when it said nothing for a day after the window")
    sent_at: str | None = None
    updated_at: str


class Campaign(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    image_id: str
    status: Literal["running", "stopped", "finished"]
    stop_reason: Literal["failures", "operator"] | None = None
    per_minute: int
    window: Window
    stop_on_failure_share: float
    charger_count: int
    counts: dict[State, int] | None = Field(None, description="Chargers by state (GET of one campaign)")
    chargers: list[CampaignCharger] | None = Field(None, description="The first 1,000 chargers by id (GET of one)")
    created_at: str
    created_by: str | None = None
    stopped_at: str | None = None
    finished_at: str | None = None


class CampaignPage(BaseModel):
    items: list[Campaign]
    next_token: str | None


def _campaign(item: dict[str, Any]) -> Campaign:
    return Campaign(id=item["transfer_id"], **{name: item.get(name) for name in Campaign.model_fields
                                               if name not in ("id",) and name in item})


@router.post("/firmware-campaigns", security=_WRITE, summary="Start a firmware campaign", tags=[FIRMWARE],
             description=("Sends UpdateFirmware with the image's file URL to the chargers (or the site's), at most "
                          "`rollout.per_minute` a minute inside `rollout.window` (the first at once); a charger whose "
                          "OCPP version is not known yet waits for its next connection. 422 for an unknown or not "
                          "yet uploaded image, unknown chargers or a site without any."),
             responses=responses({201: ("Started; Location is the campaign", Campaign)}, 422))
def post_campaign(request: CampaignRequest) -> Campaign:
    image = transfers.image(request.image)
    if image is None or transfers.object_size(image["object_key"]) is None:
        raise ProblemError(422, f"No uploaded firmware image {request.image!r}: POST /firmware-images and upload it "
                                "first", [ProblemDetail(path="body.image", message="unknown or not uploaded")])
    if request.site_id is not None:
        targets = fleet.site_chargers(request.site_id)
        if not targets:
            raise ProblemError(422, f"No charger is placed at site {request.site_id!r}",
                               [ProblemDetail(path="body.site_id", message="no chargers")])
    else:
        targets = list(request.charge_point_ids or [])
        _known(targets, "body.charge_point_ids")
    now = clock.now()
    window = request.rollout.window or Window(**{"from": clock.iso(now), "to": clock.iso(now + timedelta(days=7))})
    if window.to <= clock.iso(now):
        raise ProblemError(422, "The rollout window is over: send one that ends in the future",
                           [ProblemDetail(path="body.rollout.window.to", message="in the past")])
    item = transfers.create_campaign(image, targets, request.rollout.per_minute,
                                     {"from": window.from_, "to": window.to}, request.stop_on_failure_share, _base(),
                                     _key_id())
    return json_response(201, _campaign(item), {"Location": f"/firmware-campaigns/{item['transfer_id']}"})  # type: ignore[return-value]


@router.get("/firmware-campaigns", security=_READ, summary="List firmware campaigns", tags=[FIRMWARE],
            description="Campaigns newest first (without counts: GET one for them); follow `next_token`.",
            responses=responses({200: ("A page of campaigns", CampaignPage)}, 422))
def list_campaigns(limit: Limit = 20, next_token: NextToken = None) -> CampaignPage:
    items, last = transfers.campaign_listing(limit, _page(next_token, kind="campaign"))
    return CampaignPage(items=[_campaign(i) for i in items], next_token=encode_token(last))


@router.get("/firmware-campaigns/<campaign_id>", security=_READ, summary="Get a firmware campaign", tags=[FIRMWARE],
            description="The campaign with its chargers counted by state and listed. 404 for an unknown id.",
            responses=responses({200: ("The campaign", Campaign)}, 404, 422))
def get_campaign(campaign_id: TransferId) -> Campaign:
    return _campaign(_found(transfers.campaign_view(campaign_id), "firmware campaign", campaign_id))


@router.post("/firmware-campaigns/<campaign_id>/stop", security=_WRITE, summary="Stop a firmware campaign",
             tags=[FIRMWARE], description=("Sends nothing more; the updates under way go on reporting. 404 for an "
                                           "unknown campaign, 409 for one stopped or finished already."),
             responses=responses({200: ("Stopped", Campaign)}, 404, 409, 422))
def stop_campaign(campaign_id: TransferId) -> Campaign:
    try:
        item = transfers.stop_campaign(campaign_id, _key_id())
    except transfers.Conflict:
        raise ProblemError(409, f"Firmware campaign {campaign_id!r} no longer runs") from None
    return _campaign(_found(item, "firmware campaign", campaign_id))

