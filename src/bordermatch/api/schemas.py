"""API request and response shapes (pydantic), kept apart from the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from bordermatch.api.strings import IdText, NameText, ReasonText

Decision = Literal["match", "no_match", "review", "no_capture", "manual_inspection"]
Direction = Literal["entry", "exit"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GalleryCreate(Strict):
    name: NameText
    kind: Literal["crossing", "flight"]
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    # The lanes whose device and partner keys may submit here ("gate:B12" for a boarding
    # desk); none means no device may, until PUT /v1/galleries/{id}/lanes assigns some.
    lanes: list[IdText] = Field(default_factory=list, max_length=64)

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _in_utc_range(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("date out of range once converted to UTC") from None


class GalleryLanes(Strict):
    lanes: list[IdText] = Field(max_length=64)


class GalleryOut(BaseModel):
    id: str
    name: str
    kind: str
    valid_from: datetime
    valid_until: datetime
    lanes: list[str] = Field(default_factory=list)
    status: str
    enrolled: int = 0
    created_at: datetime
    closed_at: datetime | None = None


class EnrolmentOut(BaseModel):
    enrolment_id: str
    gallery_id: str
    traveler_id: str
    status: str
    quality: float | None
    alias_alerts: list[str] = Field(description="Review item ids raised by this enrolment.")


class TravelerUpdate(Strict):
    """A supervisor's correction; only the fields given change, and the reason is audited."""

    given_names: str | None = Field(default=None, max_length=200)
    surname: str | None = Field(default=None, min_length=1, max_length=200)
    citizen: bool | None = None
    reason: str = Field(min_length=1, max_length=2000)


class TravelerOut(BaseModel):
    traveler_id: str
    given_names: str
    surname: str
    citizen: bool
    opted_out: bool


class ManifestRowOut(BaseModel):
    line: int
    traveler_id: str | None
    status: Literal["enrolled", "opted_out", "error"]
    error: str | None = None
    detail: str | None = None
    alias_alerts: list[str] = []


class ManifestReport(BaseModel):
    gallery_id: str
    enrolled: int
    errors: int
    rows: list[ManifestRowOut]


class OccupantOut(BaseModel):
    """One occupant's decision. A device's answer leaves out ``traveler_id``, ``score``,
    ``reason`` and ``source`` (null); an officer's GET of the encounter has them."""

    track_id: int
    traveler_id: str | None = None
    score: float | None = None
    decision: Decision
    # Why (bordermatch.types.Reason): above_threshold, below_threshold, review_band,
    # runner_up, alias, no_capture, opted_out.
    reason: str | None = None
    source: str | None = None  # "document" (1:few against a read) or "gallery" (1:N)
    quality: float | None
    row: int | None = None
    seat: str | None = None


class EncounterOut(BaseModel):
    id: str
    kind: str
    gallery_id: str
    lane: str
    direction: str
    created_at: datetime
    latency_ms: float
    occupants: list[OccupantOut]
    # A booth or kiosk encounter, read by an officer: the document read and its checks.
    document: DocumentCheckOut | None = None


class OptOutIn(Strict):
    gallery_id: IdText
    lane: IdText
    direction: Direction
    traveler_id: IdText


class VerifyOut(BaseModel):
    """A gate device gets the decision and the qualities; the score, threshold and target
    are for officers, who weigh a borderline case (null for a device)."""

    decision: Decision
    reason: str
    score: float | None = None
    threshold: float | None = None
    target_fmr: float | None = None
    quality_live: float
    quality_document: float


class CrossingOut(BaseModel):
    id: str
    traveler_id: str
    direction: str
    lane: str
    gallery_id: str
    encounter_id: str
    method: str
    occurred_at: datetime


class ReviewItemOut(BaseModel):
    id: str
    kind: str
    status: str
    gallery_id: str | None
    encounter_id: str | None
    traveler_id: str | None
    other_traveler_id: str | None
    score: float | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class AdjudicationIn(Strict):
    decision: Literal["accept", "reject"]
    reason: ReasonText


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    resource_type: str
    resource_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None
    problem: str | None


class BoardOut(BaseModel):
    """All an airline partner learns: never a name, a photo or a score."""

    model_config = ConfigDict(extra="forbid")
    match: bool
    boarding_token: str | None


class FingerQualityOut(BaseModel):
    finger: int  # order in the request, from 0
    position: int  # ISO/IEC 19794-2 finger code
    quality: int | None  # NFIQ 2, 0-100 (None: a template that states none)


class FingerprintSearchOut(BaseModel):
    """What a handheld device learns: the decision and the capture qualities, never who is on
    the watchlist or how well a print matched (an officer sees that on the review page)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    decision: Literal["hit", "no_hit", "recapture"]
    lane: str
    created_at: datetime
    fingers: list[FingerQualityOut]
    min_quality: int
    recapture: list[FingerQualityOut]  # the fingers to take again (decision "recapture")


class WatchlistSubjectOut(BaseModel):
    id: str
    reference: str
    enrolled_at: datetime
    fingers: list[FingerQualityOut]


class Health(BaseModel):
    status: str
    database: str


# -- POST /v1/documents/verify (booths and kiosks) -------------------------------------------
class MrzCheckOut(BaseModel):
    field: str  # the MRZ field checked (document_number, birth_date, composite...)
    code: str  # stable: check_digit, charset, date, country, sex, layout...
    ok: bool
    detail: str


class PassiveAuthOut(BaseModel):
    status: Literal["valid", "untrusted", "tampered", "unsupported"]
    details: list[str]  # each finding, failures first (hash per data group, signature, CSCA)


class DocumentCheckOut(BaseModel):
    """What the booth read and what the service found; all of it is on the document the
    booth holds, apart from which CSCA the trust store has (public, as in the ICAO PKD)."""

    source: Literal["chip", "mrz"]
    document_type: str
    document_number: str
    nationality: str
    issuing_state: str
    expiry_date: str | None
    expired: bool
    mrz_valid: bool
    mrz_checks: list[MrzCheckOut]
    passive_authentication: PassiveAuthOut | None  # null for an MRZ read (no chip)


class DocumentReadOut(BaseModel):
    """One entry of a vehicle event's ``documents`` (DESIGN.md), as the lane takes it."""

    document_type: str
    document_number: str
    nationality: str
    source: Literal["chip", "mrz"]


class BoothOut(BaseModel):
    """A booth's or kiosk's answer: decisions, never who the document names or the score
    (an officer reads those at GET /v1/encounters/{id} and in the review queue)."""

    id: str  # the encounter
    kind: Literal["booth", "kiosk"]
    gallery_id: str
    lane: str
    direction: str
    created_at: datetime
    decision: Literal["match", "review", "manual_inspection"]
    # Why it is not a match, worst first: tampered_chip, untrusted_chip, unsupported_chip,
    # invalid_mrz, expired_document, no_document_face, no_match, review_band, opted_out.
    reasons: list[str]
    face: Literal["match", "no_match", "review"] | None  # the 1:1 outcome; null: no face
    quality: float | None  # of the live capture, 0-100 (for a retake)
    document: DocumentCheckOut
    # Set only for a match: pass it on in the vehicle event's ``documents`` (docs/service.md).
    document_read: DocumentReadOut | None
