"""Read-only queries of the operations pages: the lane monitor, the rate reports and review
outcomes (``web/monitor.py``, ``web/reports.py``). ``repo.py`` holds the queries that write.

Reads that return personal data (traveller ids, capture photos) append an audit entry in
the caller's transaction; the aggregate tables name nobody and are audited as one read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from bordermatch.errors import InputError, UnknownRecordError
from bordermatch.store import audit
from bordermatch.store.keys import Principal
from bordermatch.store.tables import Encounter, Occupant, ReviewItem

GROUPINGS = ("lane", "row", "day")
# Decisions that mean a face was captured and searched (no_capture and opt-outs were not).
CAPTURED = ("match", "no_match", "review")


# -- the lane monitor ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LaneActivity:
    lane: str
    encounters: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class MonitorOccupant:
    id: str
    track_id: int
    row: int | None
    seat: str | None
    traveler_id: str | None
    decision: str
    reason: str | None
    score: float | None
    quality: float | None
    photo: str  # "stored" | "purged" | "no_capture" | "opted_out" | "not_retained"


@dataclass(frozen=True, slots=True)
class MonitorVehicle:
    id: str
    kind: str
    direction: str
    created_at: datetime
    latency_ms: float
    occupants: tuple[MonitorOccupant, ...]

    @property
    def attention(self) -> bool:
        """True when an officer must act: a review, a manual inspection or no capture."""
        return any(o.decision in ("review", "manual_inspection", "no_capture")
                   for o in self.occupants)


def photo_state(o: Occupant) -> str:
    if o.capture_blob:
        return "stored"
    if o.purged_at is not None:
        return "purged"
    if o.decision == "manual_inspection":
        return "opted_out"  # no photo was taken
    if o.decision == "no_capture":
        return "no_capture"
    return "not_retained"  # vehicle frames are not kept (service/vehicle.py)


def lanes(s: Session, since: datetime | None = None, limit: int = 200) -> list[LaneActivity]:
    """The lanes that recorded an encounter since ``since``, most recently active first, with
    their counts in that time (no PII). ``since`` keeps the scan on the created_at index."""
    stmt = (select(Encounter.lane, func.count(Encounter.id), func.max(Encounter.created_at))
            .group_by(Encounter.lane).order_by(func.max(Encounter.created_at).desc())
            .limit(limit))
    if since is not None:
        stmt = stmt.where(Encounter.created_at >= since)
    # max() keeps the column's type, so the time comes back aware in UTC.
    return [LaneActivity(lane, int(n), last) for lane, n, last in s.execute(stmt)]


def lane_head(s: Session, lane: str) -> tuple[str | None, int]:
    """The newest encounter id of a lane and the lane's count: what the page polls (no PII)."""
    newest = s.scalar(select(Encounter.id).where(Encounter.lane == lane)
                      .order_by(Encounter.created_at.desc(), Encounter.id.desc()).limit(1))
    count = s.scalar(select(func.count(Encounter.id)).where(Encounter.lane == lane)) or 0
    return newest, int(count)


def latest_vehicles(s: Session, who: Principal, now: datetime, lane: str,
                    limit: int = 12) -> list[MonitorVehicle]:
    """The newest encounters of a lane with their occupants; the read is audited."""
    encounters = list(s.scalars(select(Encounter).where(Encounter.lane == lane)
                                .order_by(Encounter.created_at.desc(), Encounter.id.desc())
                                .limit(limit)))
    by_encounter: dict[str, list[MonitorOccupant]] = {e.id: [] for e in encounters}
    if encounters:
        for o in s.scalars(select(Occupant).where(Occupant.encounter_id.in_(list(by_encounter)))
                           .order_by(Occupant.encounter_id, Occupant.track_id)):
            by_encounter[o.encounter_id].append(MonitorOccupant(
                o.id, o.track_id, o.row, o.seat, o.traveler_id, o.decision, o.reason, o.score,
                o.quality, photo_state(o)))
    audit.append(s, now, who, "monitor.read", "lane", lane[:80],
                 encounters=[e.id for e in encounters])
    return [MonitorVehicle(e.id, e.kind, e.direction, e.created_at, e.latency_ms,
                           tuple(by_encounter[e.id])) for e in encounters]


def occupant_photo_blob(s: Session, who: Principal, now: datetime,
                        occupant_id: str) -> tuple[str, str | None]:
    """(photo state, blob id) of an occupant's best shot; a stored one is an audited view."""
    o = s.get(Occupant, occupant_id)
    if o is None:
        raise UnknownRecordError(f"no occupant {occupant_id!r}")
    state = photo_state(o)
    if state == "stored":
        audit.append(s, now, who, "monitor.photo", "occupant", o.id,
                     encounter_id=o.encounter_id, traveler_id=o.traveler_id)
    return state, o.capture_blob


# -- rates by lane, row and day ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RateRow:
    key: str  # the lane, the row ("none" for gates) or the day (YYYY-MM-DD, UTC)
    vehicles: int
    occupants: int
    opted_out: int
    captured: int
    matched: int
    review: int

    @property
    def eligible(self) -> int:
        """Occupants who were meant to be captured (opt-outs are not)."""
        return self.occupants - self.opted_out

    @property
    def capture_rate(self) -> float | None:
        return self.captured / self.eligible if self.eligible else None

    @property
    def validation_rate(self) -> float | None:
        """Share of the eligible occupants matched to a traveller with no officer involved."""
        return self.matched / self.eligible if self.eligible else None


RATE_COLUMNS = ("vehicles", "occupants", "opted_out", "captured", "matched", "review",
                "capture_rate", "validation_rate")


def _count(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0).cast(Integer)


def rates(s: Session, who: Principal, now: datetime, by: str,
          since: datetime | None = None) -> list[RateRow]:
    """Capture and validation rates per lane, seat row or UTC day since ``since``."""
    if by not in GROUPINGS:
        raise InputError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")
    key: Any = {"lane": Encounter.lane, "row": Occupant.row,
                "day": func.date(Encounter.created_at)}[by]
    stmt = (select(key, func.count(func.distinct(Encounter.id)), func.count(Occupant.id),
                   _count(Occupant.decision == "manual_inspection"),
                   _count(Occupant.decision.in_(CAPTURED)), _count(Occupant.decision == "match"),
                   _count(Occupant.decision == "review"))
            .join(Occupant, Occupant.encounter_id == Encounter.id)
            .group_by(key).order_by(key))
    if since is not None:
        stmt = stmt.where(Encounter.created_at >= since)
    out = [RateRow(_key_text(k), *(int(v) for v in rest)) for k, *rest in s.execute(stmt)]
    audit.append(s, now, who, "report.rates", "report", by,
                 since=since.isoformat() if since else None, groups=len(out))
    return out


def _key_text(k: object) -> str:
    if k is None:
        return "none"
    if isinstance(k, (date, datetime)):
        return k.isoformat()[:10]
    return str(k)


# -- review outcomes ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OutcomeRow:
    kind: str  # the review item's kind
    reason: str  # why it needed review (the occupant's decision reason, else the kind)
    pending: int
    accepted: int
    rejected: int

    @property
    def total(self) -> int:
        return self.pending + self.accepted + self.rejected


def review_outcomes(s: Session, who: Principal, now: datetime,
                    since: datetime | None = None) -> list[OutcomeRow]:
    """Review items by kind and reason: pending, accepted, rejected (no PII)."""
    reason = func.coalesce(Occupant.reason, ReviewItem.kind)
    stmt = (select(ReviewItem.kind, reason, _count(ReviewItem.status == "open"),
                   _count(ReviewItem.status == "accepted"),
                   _count(ReviewItem.status == "rejected"))
            .outerjoin(Occupant, Occupant.id == ReviewItem.occupant_id)
            .group_by(ReviewItem.kind, reason).order_by(ReviewItem.kind, reason))
    if since is not None:
        stmt = stmt.where(ReviewItem.created_at >= since)
    out = [OutcomeRow(kind, str(why), int(p), int(a), int(r))
           for kind, why, p, a, r in s.execute(stmt)]
    audit.append(s, now, who, "report.review_outcomes", "report", None,
                 since=since.isoformat() if since else None, groups=len(out))
    return out


def rate_table(rows: Sequence[RateRow]) -> list[list[object]]:
    """The rate rows as plain cells (the CSV export and the page share it)."""
    return [[r.key, r.vehicles, r.occupants, r.opted_out, r.captured, r.matched, r.review,
             _rate(r.capture_rate), _rate(r.validation_rate)] for r in rows]


def _rate(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"
