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

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _in_utc_range(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("date out of range once converted to UTC") from None


class GalleryOut(BaseModel):
    id: str
    name: str
    kind: str
    valid_from: datetime
    valid_until: datetime
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
