"""Queries of the fingerprint watchlist and of handheld searches.

Beside ``repo.py`` (which holds the face records) for size; the same rules apply: nothing
else touches these tables, and every read or write of biometric data or PII appends its
audit entry in the caller's transaction. Templates and prints are encrypted blobs
(``store/blobs.py``); rows hold only their ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bordermatch.errors import RecordStateError, UnknownRecordError
from bordermatch.store import audit
from bordermatch.store.keys import Principal
from bordermatch.store.tables import (
    Enrolment,
    FingerprintProbe,
    FingerprintSearch,
    ReviewItem,
    Traveler,
    WatchlistFinger,
    WatchlistSubject,
)

SEARCH_DECISIONS = ("hit", "no_hit", "recapture")


def _new_id() -> str:
    return str(uuid.uuid4())


# -- the watchlist --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FingerRecord:
    """One enrolled finger as written: its code, NFIQ 2 score and blob ids."""

    position: int
    quality: int
    template_blob: str
    image_blob: str | None


def add_subject(s: Session, who: Principal, now: datetime, subject_id: str, reference: str,
                fingers: Sequence[FingerRecord]) -> WatchlistSubject:
    """Enrol a subject with its fingers; an id already on the list is a RecordStateError
    (a subject is changed by removing and re-enrolling, never silently replaced)."""
    if s.get(WatchlistSubject, subject_id) is not None:
        raise RecordStateError(f"subject {subject_id!r} is already on the watchlist")
    subject = WatchlistSubject(id=subject_id, reference=reference,
                               enrolled_by=f"{who.name} ({who.key_id})", enrolled_at=now)
    s.add(subject)
    s.flush()
    for f in fingers:
        s.add(WatchlistFinger(id=_new_id(), subject_id=subject_id, position=f.position,
                              quality=f.quality, template_blob=f.template_blob,
                              image_blob=f.image_blob, enrolled_at=now))
    s.flush()
    audit.append(s, now, who, "watchlist.enrol", "watchlist_subject", subject_id,
                 positions=[f.position for f in fingers],
                 qualities=[f.quality for f in fingers])
    return subject


def watchlist_state(s: Session) -> tuple[int, datetime | None]:
    """(enrolled fingers, newest enrolment): changes whenever the watchlist does, so that a
    process's loaded search structure knows it is stale (another process enrolled)."""
    n, newest = s.execute(select(func.count(WatchlistFinger.id),
                                 func.max(WatchlistFinger.enrolled_at))).one()
    return int(n), newest


def watchlist_rows(s: Session) -> list[tuple[str, int, str]]:
    """(subject id, position, template blob id) of every enrolled finger. Read by the system
    to build its search structure, not by a person, so not audited (the searches are)."""
    return [(sid, pos, blob) for sid, pos, blob in s.execute(
        select(WatchlistFinger.subject_id, WatchlistFinger.position,
               WatchlistFinger.template_blob)
        .order_by(WatchlistFinger.subject_id, WatchlistFinger.position))]


def subject_fingers(s: Session, subject_id: str) -> list[WatchlistFinger]:
    return list(s.scalars(select(WatchlistFinger).where(WatchlistFinger.subject_id == subject_id)
                          .order_by(WatchlistFinger.position)))


# -- searches -------------------------------------------------------------------------------
def traveler_by_document(s: Session, number: str, nationality: str) -> Traveler | None:
    """The traveller a document names, from any of their enrolled documents."""
    tid = s.scalar(select(Traveler.id).where(
        or_(Traveler.id.in_(select(Enrolment.traveler_id).where(
            Enrolment.document_number == number, Enrolment.nationality == nationality)),
            (Traveler.document_number == number) & (Traveler.nationality == nationality)))
        .limit(1))
    return s.get(Traveler, tid) if tid else None


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    finger: int
    position: int
    quality: int | None
    score: float | None = None  # against the hit subject's best finger
    matched_position: int | None = None
    image_blob: str | None = None
    template_blob: str | None = None
    purge_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class SearchRecord:
    lane: str
    decision: str
    probes: Sequence[ProbeRecord]
    subject_id: str | None = None
    score: float | None = None
    threshold: float | None = None
    traveler_id: str | None = None
    citizen: bool | None = None
    comparisons: int = 0
    latency_ms: float = 0.0
    idempotency_key: str | None = None
    request_hash: str | None = None
    # The operating point the threshold was set for ("FPIR", the target), kept on a hit's
    # review item as the one decision path states it (ReviewItem.basis).
    rate: str | None = None
    target: float | None = None


def find_idempotent_search(s: Session, device_key_id: str, key: str
                           ) -> FingerprintSearch | None:
    return s.scalar(select(FingerprintSearch).where(
        FingerprintSearch.device_key_id == device_key_id,
        FingerprintSearch.idempotency_key == key))


def add_search(s: Session, who: Principal, now: datetime, rec: SearchRecord
               ) -> tuple[FingerprintSearch, ReviewItem | None]:
    """Store a search with its probes and, for a hit, the officer's review item; audited."""
    if rec.decision not in SEARCH_DECISIONS:
        raise ValueError(f"decision must be one of {SEARCH_DECISIONS}")
    search = FingerprintSearch(
        id=_new_id(), device_key_id=who.key_id, lane=rec.lane, decision=rec.decision,
        subject_id=rec.subject_id, score=rec.score, threshold=rec.threshold,
        traveler_id=rec.traveler_id, citizen=rec.citizen, comparisons=rec.comparisons,
        latency_ms=rec.latency_ms, idempotency_key=rec.idempotency_key,
        request_hash=rec.request_hash, created_at=now)
    s.add(search)
    s.flush()
    for p in rec.probes:
        s.add(FingerprintProbe(id=_new_id(), search_id=search.id, finger=p.finger,
                               position=p.position, quality=p.quality, score=p.score,
                               matched_position=p.matched_position, image_blob=p.image_blob,
                               template_blob=p.template_blob, purge_after=p.purge_after))
    item = None
    if rec.decision == "hit":
        basis = {"reason": "fingerprint_hit", "score": rec.score, "threshold": rec.threshold,
                 "rate": rec.rate, "target": rec.target, "source": "watchlist"}
        item = ReviewItem(id=_new_id(), kind="fingerprint_hit", status="open",
                          traveler_id=rec.traveler_id, score=rec.score,
                          fingerprint_search_id=search.id, basis=basis, created_at=now)
        s.add(item)
    s.flush()
    audit.append(s, now, who, "fingerprint.search", "fingerprint_search", search.id,
                 lane=rec.lane, decision=rec.decision, fingers=len(rec.probes),
                 positions=[p.position for p in rec.probes], subject_id=rec.subject_id,
                 traveler_id=rec.traveler_id, review_item=item.id if item else None)
    return search, item


def get_search(s: Session, search_id: str) -> tuple[FingerprintSearch, list[FingerprintProbe]]:
    search = s.get(FingerprintSearch, search_id)
    if search is None:
        raise UnknownRecordError(f"no fingerprint search {search_id!r}")
    probes = list(s.scalars(select(FingerprintProbe).where(FingerprintProbe.search_id ==
                                                           search.id)
                            .order_by(FingerprintProbe.finger)))
    return search, probes


# -- the review of a hit --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HitView:
    """What the officer sees of a hit: the search, its probes, the subject, and the subject's
    enrolled fingers that the probes were matched to (the prints shown beside them)."""

    search: FingerprintSearch
    probes: tuple[FingerprintProbe, ...]
    subject: WatchlistSubject | None
    shown_finger: FingerprintProbe | None  # the probe finger that scored best
    enrolled: tuple[WatchlistFinger, ...] = ()  # by position, those a probe matched

    def enrolled_at(self, position: int | None) -> WatchlistFinger | None:
        return next((f for f in self.enrolled if f.position == position), None)


def hit_view(s: Session, search_id: str) -> HitView:
    search, probes = get_search(s, search_id)
    subject = s.get(WatchlistSubject, search.subject_id) if search.subject_id else None
    scored = [p for p in probes if p.score is not None and p.matched_position is not None]
    shown = max(scored, key=lambda p: (p.score, -p.finger)) if scored else None
    enrolled: tuple[WatchlistFinger, ...] = ()
    positions = sorted({p.matched_position for p in scored if p.matched_position is not None})
    if search.subject_id and positions:
        enrolled = tuple(s.scalars(select(WatchlistFinger).where(
            WatchlistFinger.subject_id == search.subject_id,
            WatchlistFinger.position.in_(positions)).order_by(WatchlistFinger.position)))
    return HitView(search, tuple(probes), subject, shown, enrolled)
