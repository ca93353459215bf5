"""Every database query of the service. Routes and workflows call these; nothing else
touches the tables.

Functions that read or write biometric data or PII append an audit entry in the caller's
transaction (``audit.append``), so the change and its record commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bordermatch.errors import (
    InputError,
    RecordStateError,
    TravelerConflictError,
    UnknownRecordError,
)
from bordermatch.store import audit, index_outbox
from bordermatch.store import document_reads as document_reads_store
from bordermatch.store.keys import Principal, normalise_lanes
from bordermatch.store.tables import (
    Crossing,
    DocumentRead,
    Encounter,
    Enrolment,
    Gallery,
    Occupant,
    ReviewItem,
    Traveler,
)

GALLERY_KINDS = ("crossing", "flight")
DIRECTIONS = ("entry", "exit")


def new_id() -> str:
    return str(uuid.uuid4())


# -- galleries -----------------------------------------------------------------------------
def create_gallery(s: Session, who: Principal, now: datetime, name: str, kind: str,
                   valid_from: datetime, valid_until: datetime,
                   lanes: Sequence[str] = ()) -> Gallery:
    if kind not in GALLERY_KINDS:
        raise InputError(f"gallery kind must be one of {GALLERY_KINDS}")
    if valid_until <= valid_from:
        raise InputError("valid_until must be after valid_from")
    served_by = list(normalise_lanes(lanes))
    g = Gallery(id=new_id(), name=name, kind=kind, valid_from=valid_from,
                valid_until=valid_until, status="open", revision=0, lanes=served_by,
                created_at=now)
    s.add(g)
    s.flush()
    audit.append(s, now, who, "gallery.create", "gallery", g.id, name=name, kind=kind,
                 lanes=served_by)
    return g


def set_gallery_lanes(s: Session, who: Principal, now: datetime, gallery_id: str,
                      lanes: Sequence[str]) -> Gallery:
    """Reassign the lanes that serve a gallery (a flight moved to another gate)."""
    g = get_gallery(s, gallery_id)
    before, g.lanes = list(g.lanes or []), list(normalise_lanes(lanes))
    audit.append(s, now, who, "gallery.lanes", "gallery", g.id, before=before, after=g.lanes)
    return g


def get_gallery(s: Session, gallery_id: str) -> Gallery:
    g = s.get(Gallery, gallery_id)
    if g is None:
        raise UnknownRecordError(f"no gallery {gallery_id!r}")
    return g


def serving_gallery(s: Session, who: Principal, gallery_id: str, lane: str,
                    now: datetime) -> Gallery:
    """A usable gallery that ``lane`` serves, for the device or partner ``who``."""
    g = usable_gallery(s, gallery_id, now)
    who.check_served(g.id, g.lanes or (), lane)
    return g


def usable_gallery(s: Session, gallery_id: str, now: datetime) -> Gallery:
    """A gallery that accepts encounters now: open and inside its validity window."""
    g = get_gallery(s, gallery_id)
    if g.status != "open":
        raise RecordStateError(f"gallery {gallery_id} is closed")
    if not (g.valid_from <= now < g.valid_until):
        raise RecordStateError(
            f"gallery {gallery_id} is valid from {g.valid_from.isoformat()} "
            f"until {g.valid_until.isoformat()}"
        )
    return g


def list_galleries(s: Session, status: str | None = None) -> list[tuple[Gallery, int]]:
    counts = (select(Enrolment.gallery_id,
                     func.count(func.distinct(Enrolment.traveler_id)).label("n"))
              .where(Enrolment.status == "enrolled").group_by(Enrolment.gallery_id).subquery())
    stmt = (select(Gallery, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.gallery_id == Gallery.id)
            .order_by(Gallery.created_at, Gallery.id))
    if status:
        stmt = stmt.where(Gallery.status == status)
    return [(g, int(n)) for g, n in s.execute(stmt)]


def close_gallery(s: Session, who: Principal, now: datetime, gallery_id: str) -> Gallery:
    g = get_gallery(s, gallery_id)
    if g.status == "closed":
        raise RecordStateError(f"gallery {gallery_id} is already closed")
    g.status, g.closed_at = "closed", now
    audit.append(s, now, who, "gallery.close", "gallery", g.id)
    return g


def bump_revision(s: Session, gallery_ids: Iterable[str]) -> None:
    ids = sorted(set(gallery_ids))
    if ids:
        s.execute(update(Gallery).where(Gallery.id.in_(ids))
                  .values(revision=Gallery.revision + 1))


def gallery_revision(s: Session, gallery_id: str) -> int:
    rev = s.scalar(select(Gallery.revision).where(Gallery.id == gallery_id))
    if rev is None:
        raise UnknownRecordError(f"no gallery {gallery_id!r}")
    return rev


# -- travellers and enrolment ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Biographics:
    traveler_id: str
    given_names: str
    surname: str
    document_type: str
    document_number: str
    nationality: str
    citizen: bool
    opt_out: bool = False


# What identifies a person across galleries; documents may be added, these may not change
# except through a supervisor's audited update (update_traveler).
BIOGRAPHIC_FIELDS = ("given_names", "surname", "citizen")


def enrol_traveler(s: Session, now: datetime, bio: Biographics) -> Traveler:
    """The traveller an enrolment belongs to: created on first enrolment. A later
    enrolment must agree on names and citizenship (TravelerConflictError names the fields
    that differ): re-enrolment never rewrites a traveller other galleries share."""
    t = s.get(Traveler, bio.traveler_id)
    if t is None:
        t = Traveler(id=bio.traveler_id, created_at=now, opted_out=bio.opt_out,
                     given_names=bio.given_names, surname=bio.surname,
                     document_type=bio.document_type, document_number=bio.document_number,
                     nationality=bio.nationality, citizen=bio.citizen)
        s.add(t)
        return t
    differ = [f for f in BIOGRAPHIC_FIELDS if getattr(t, f) != getattr(bio, f)]
    if differ:
        raise TravelerConflictError(
            f"traveller {t.id} is enrolled with other {', '.join(differ)}; a supervisor "
            f"changes a traveller's details (PATCH /v1/travelers/{t.id})")
    return t


def update_traveler(s: Session, who: Principal, now: datetime, traveler_id: str,
                    changes: dict[str, Any], reason: str, citizen_purge_by: datetime,
                    ) -> Traveler:
    """A supervisor's correction of names or citizenship, audited with the fields changed.
    A traveller who becomes a citizen has every stored photo and template purged within the
    citizens' retention (``citizen_purge_by``)."""
    t = get_traveler(s, traveler_id)
    unknown = set(changes) - set(BIOGRAPHIC_FIELDS)
    if unknown:
        raise InputError(f"only {', '.join(BIOGRAPHIC_FIELDS)} can be changed, not "
                         f"{', '.join(sorted(unknown))}")
    changed = sorted(k for k, v in changes.items() if getattr(t, k) != v)
    for k in changed:
        setattr(t, k, changes[k])
    if "citizen" in changed and t.citizen:
        for row in (Enrolment, Occupant, DocumentRead):
            s.execute(update(row).where(row.traveler_id == t.id, row.purged_at.is_(None),
                                        (row.purge_after.is_(None))
                                        | (row.purge_after > citizen_purge_by))
                      .values(purge_after=citizen_purge_by))
    audit.append(s, now, who, "traveler.update", "traveler", t.id, fields=changed,
                 reason=reason)
    return t


def opt_out_traveler(s: Session, who: Principal, now: datetime, traveler_id: str) -> list[str]:
    """Record an opt-out: no enrolment of this traveller keeps a photo or template, in any
    gallery. Returns the blob ids to delete once this commits (the orphan sweep deletes them
    if the process dies first)."""
    t = get_traveler(s, traveler_id)
    t.opted_out = True
    rows = list(s.scalars(select(Enrolment).where(Enrolment.traveler_id == t.id)))
    blobs = [b for e in rows for b in (e.photo_blob, e.template_blob) if b]
    index_outbox.record_delete(s, now, rows)
    for e in rows:
        if e.photo_blob or e.template_blob:
            e.photo_blob = e.template_blob = None
            e.purged_at = now
        e.status = "opted_out"
    bump_revision(s, sorted({e.gallery_id for e in rows}))
    audit.append(s, now, who, "traveler.opt_out", "traveler", t.id,
                 enrolments=len(rows), blobs_deleted=len(blobs))
    return blobs


def get_traveler(s: Session, traveler_id: str) -> Traveler:
    t = s.get(Traveler, traveler_id)
    if t is None:
        raise UnknownRecordError(f"no traveller {traveler_id!r}")
    return t


def add_enrolment(s: Session, who: Principal, now: datetime, gallery: Gallery,
                  bio: Biographics, photo_blob: str | None, template_blob: str | None,
                  model: str | None, quality: float | None,
                  purge_after: datetime | None, with_document: bool = True) -> Enrolment:
    """One reference of a traveller in a gallery: the document in ``bio`` with its photo, or
    (``with_document=False``) a photo of a traveller already enrolled there."""
    t = enrol_traveler(s, now, bio)
    s.flush()  # no ORM relationships, so the unit of work cannot order these inserts itself
    document = (bio.document_type, bio.document_number, bio.nationality) if with_document \
        else (None, None, None)
    if with_document:
        _check_document(s, gallery, bio)
    elif s.scalar(select(Enrolment.id).where(Enrolment.gallery_id == gallery.id,
                                             Enrolment.traveler_id == t.id).limit(1)) is None:
        raise UnknownRecordError(f"traveller {t.id} is not enrolled in gallery {gallery.id}")
    status = "opted_out" if t.opted_out else "enrolled"
    e = Enrolment(id=new_id(), gallery_id=gallery.id, traveler_id=t.id, photo_blob=photo_blob,
                  template_blob=template_blob, template_model=model, quality=quality,
                  status=status, enrolled_at=now, purge_after=purge_after,
                  document_type=document[0], document_number=document[1],
                  nationality=document[2])
    s.add(e)
    bump_revision(s, [gallery.id])
    index_outbox.record_put(s, now, e)
    s.flush()
    audit.append(s, now, who, "enrolment.create", "traveler", t.id, gallery_id=gallery.id,
                 enrolment_id=e.id, biometric=template_blob is not None, status=status,
                 reference="document" if with_document else "photo")
    return e


def is_enrolled(s: Session, gallery_id: str, traveler_id: str) -> bool:
    return s.scalar(select(Enrolment.id).where(Enrolment.gallery_id == gallery_id,
                                               Enrolment.traveler_id == traveler_id)
                    .limit(1)) is not None


def find_enrolment(s: Session, gallery_id: str, bio: Biographics) -> Enrolment | None:
    return s.scalar(select(Enrolment).where(
        Enrolment.gallery_id == gallery_id, Enrolment.traveler_id == bio.traveler_id,
        Enrolment.document_number == bio.document_number,
        Enrolment.nationality == bio.nationality).limit(1))


def _check_document(s: Session, gallery: Gallery, bio: Biographics) -> None:
    owners = set(s.scalars(select(Enrolment.traveler_id).where(
        Enrolment.document_number == bio.document_number,
        Enrolment.nationality == bio.nationality))) | set(s.scalars(select(Traveler.id).where(
            Traveler.document_number == bio.document_number,
            Traveler.nationality == bio.nationality)))
    others = sorted(owners - {bio.traveler_id})
    if others:
        raise TravelerConflictError(f"document {bio.document_number} ({bio.nationality}) "
                                    f"belongs to traveller {others[0]}")
    if s.scalar(select(Enrolment.id).where(
            Enrolment.gallery_id == gallery.id, Enrolment.document_number == bio.document_number,
            Enrolment.nationality == bio.nationality).limit(1)) is not None:
        raise RecordStateError(f"traveller {bio.traveler_id} is already enrolled in gallery "
                               f"{gallery.id} with document {bio.document_number}")


def gallery_templates(s: Session, gallery_id: str, model: str
                      ) -> list[tuple[str, str, str]]:
    """(enrolment id, traveler_id, template blob id) of every live reference in a gallery."""
    rows = s.execute(select(Enrolment.id, Enrolment.traveler_id, Enrolment.template_blob)
                     .where(Enrolment.gallery_id == gallery_id,
                            Enrolment.status == "enrolled",
                            Enrolment.template_blob.is_not(None),
                            Enrolment.template_model == model)
                     .order_by(Enrolment.traveler_id, Enrolment.id))
    # The query drops NULL blobs, which the column type cannot say.
    return [(eid, tid, blob) for eid, tid, blob in rows]  # type: ignore[misc]


def gallery_documents(s: Session, gallery_id: str) -> dict[tuple[str, str], str]:
    """(document_number, nationality) -> traveller, for every live enrolment in a gallery:
    how a document read in a lane names a traveller."""
    rows = s.execute(select(Enrolment.document_number, Enrolment.nationality,
                            Enrolment.traveler_id)
                     .where(Enrolment.gallery_id == gallery_id, Enrolment.status == "enrolled",
                            Enrolment.document_number.is_not(None)))
    # Enrolments store document_number and nationality together (see enrol above).
    return {(cast(str, number), cast(str, nationality)): tid for number, nationality, tid in rows}


def travelers_by_id(s: Session, ids: Sequence[str]) -> dict[str, Traveler]:
    if not ids:
        return {}
    return {t.id: t for t in s.scalars(select(Traveler).where(Traveler.id.in_(list(ids))))}


# -- encounters -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OccupantRecord:
    track_id: int
    traveler_id: str | None
    score: float | None
    decision: str
    quality: float | None
    row: int | None = None
    seat: str | None = None
    capture_blob: str | None = None
    template_blob: str | None = None
    purge_after: datetime | None = None
    reason: str | None = None
    source: str | None = None
    # For review: the best other identity, and the decision as a review item keeps it
    # (ReviewItem.basis; service.core.decision_basis).
    runner_up_id: str | None = None
    basis: dict | None = None


def find_idempotent(s: Session, device_key_id: str, key: str) -> Encounter | None:
    return s.scalar(select(Encounter).where(Encounter.device_key_id == device_key_id,
                                            Encounter.idempotency_key == key))


def add_encounter(s: Session, who: Principal, now: datetime, *, kind: str, gallery: Gallery,
                  lane: str, direction: str, occupants: Sequence[OccupantRecord],
                  idempotency_key: str | None, request_hash: str | None,
                  event_ref: str | None = None, latency_ms: float = 0.0,
                  unmatched_documents: Sequence[tuple[str, str, str]] = (),
                  document_reads: Sequence[document_reads_store.DocumentReadRecord] = (),
                  ) -> Encounter:
    """Store an encounter, its occupants, crossings for matches and review items, at once.

    ``unmatched_documents`` are the reads, ``(traveler_id, document_number, nationality)``,
    of travellers whose document was read for this encounter but whom no face matched: each
    traveller is a review item (the holder may be hiding, or the card was read from the next
    lane); it never records a crossing."""
    if direction not in DIRECTIONS:
        raise InputError(f"direction must be one of {DIRECTIONS}")
    enc = Encounter(id=new_id(), kind=kind, gallery_id=gallery.id, lane=lane,
                    direction=direction, device_key_id=who.key_id,
                    idempotency_key=idempotency_key, request_hash=request_hash,
                    event_ref=event_ref, latency_ms=latency_ms, created_at=now)
    s.add(enc)
    s.flush()
    stored: dict[int, tuple[str, str | None]] = {}
    for o in occupants:
        row = Occupant(id=new_id(), encounter_id=enc.id, track_id=o.track_id, row=o.row,
                       seat=o.seat, traveler_id=o.traveler_id, score=o.score,
                       decision=o.decision, reason=o.reason, source=o.source,
                       quality=o.quality,
                       capture_blob=o.capture_blob,
                       template_blob=o.template_blob, purge_after=o.purge_after)
        s.add(row)
        s.flush()
        stored[o.track_id] = (row.id, o.traveler_id)
        if o.decision == "match" and o.traveler_id:
            s.add(Crossing(id=new_id(), traveler_id=o.traveler_id, encounter_id=enc.id,
                           occupant_id=row.id, gallery_id=gallery.id, direction=direction,
                           lane=lane, method="biometric", occurred_at=now))
        elif o.decision in ("review", "manual_inspection"):
            s.add(ReviewItem(id=new_id(), kind="encounter" if o.decision == "review"
                             else "manual_inspection", status="open", gallery_id=gallery.id,
                             encounter_id=enc.id, occupant_id=row.id,
                             traveler_id=o.traveler_id, score=o.score, created_at=now,
                             other_traveler_id=o.runner_up_id,
                             basis=o.basis or ({"reason": o.reason} if o.reason else None)))
    reads: dict[str, list[list[str]]] = {}
    for tid, number, nationality in unmatched_documents:
        reads.setdefault(tid, []).append([number, nationality])
    for tid, docs in sorted(reads.items()):
        s.add(ReviewItem(id=new_id(), kind="unmatched_document", status="open",
                         gallery_id=gallery.id, encounter_id=enc.id, traveler_id=tid,
                         created_at=now,
                         basis={"reason": "unmatched_document", "documents": docs}))
    document_reads_store.add(s, enc.id, stored, document_reads, now)
    s.flush()
    audit.append(s, now, who, f"encounter.{kind}", "encounter", enc.id, gallery_id=gallery.id,
                 lane=lane, direction=direction, occupants=len(occupants),
                 travelers=[o.traveler_id for o in occupants if o.traveler_id],
                 # what a booth found, for the auditor (no names, no photo)
                 **({"documents": [{"source": d.source, "passive_auth": d.passive_auth,
                                    "reasons": d.reasons} for d in document_reads]}
                    if document_reads else {}))
    return enc


def get_encounter(s: Session, encounter_id: str) -> tuple[Encounter, list[Occupant]]:
    enc = s.get(Encounter, encounter_id)
    if enc is None:
        raise UnknownRecordError(f"no encounter {encounter_id!r}")
    occ = list(s.scalars(select(Occupant).where(Occupant.encounter_id == enc.id)
                         .order_by(Occupant.track_id)))
    return enc, occ


def read_encounter(s: Session, who: Principal, now: datetime,
                   encounter_id: str) -> tuple[Encounter, list[Occupant]]:
    enc, occ = get_encounter(s, encounter_id)
    audit.append(s, now, who, "encounter.read", "encounter", enc.id)
    return enc, occ


# -- crossings ------------------------------------------------------------------------------
def crossings_for(s: Session, who: Principal, now: datetime, traveler_id: str,
                  biometric_only: bool = True) -> list[Crossing]:
    get_traveler(s, traveler_id)
    stmt = select(Crossing).where(Crossing.traveler_id == traveler_id)
    if biometric_only:
        stmt = stmt.where(Crossing.method.in_(("biometric", "officer_review")))
    rows = list(s.scalars(stmt.order_by(Crossing.occurred_at, Crossing.id)))
    audit.append(s, now, who, "crossings.read", "traveler", traveler_id, count=len(rows))
    return rows


# -- review ---------------------------------------------------------------------------------
def add_alias_alert(s: Session, now: datetime, gallery_id: str, traveler_id: str,
                    other_traveler_id: str, score: float, basis: dict | None = None,
                    ) -> ReviewItem:
    item = ReviewItem(id=new_id(), kind="alias", status="open", gallery_id=gallery_id,
                      traveler_id=traveler_id, other_traveler_id=other_traveler_id,
                      score=score, created_at=now, basis=basis)
    s.add(item)
    s.flush()
    return item


def open_alias_pairs(s: Session, gallery_id: str) -> dict[str, set[str]]:
    """Traveller -> travellers it may be an alias of, from the open alias alerts.

    Read by the system itself to decide (a match to either is ambiguous); not a person's
    access, so not audited here: the decision it feeds is.
    """
    out: dict[str, set[str]] = {}
    stmt = select(ReviewItem.traveler_id, ReviewItem.other_traveler_id).where(
        ReviewItem.kind == "alias", ReviewItem.status == "open",
        ReviewItem.gallery_id == gallery_id)
    for a, b in s.execute(stmt):
        if a and b:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
    return out


def review_queue(s: Session, who: Principal, now: datetime, status: str = "open",
                 kind: str | None = None, limit: int = 100) -> list[ReviewItem]:
    stmt = select(ReviewItem).where(ReviewItem.status == status)
    if kind:
        stmt = stmt.where(ReviewItem.kind == kind)
    rows = list(s.scalars(stmt.order_by(ReviewItem.created_at, ReviewItem.id).limit(limit)))
    audit.append(s, now, who, "review.list", "review", None, status=status,
                 items=[r.id for r in rows])
    return rows


def adjudicate(s: Session, who: Principal, now: datetime, item_id: str, accept: bool,
               reason: str) -> ReviewItem:
    item = s.get(ReviewItem, item_id, with_for_update=True)
    if item is None:
        raise UnknownRecordError(f"no review item {item_id!r}")
    if item.status != "open":
        raise RecordStateError(f"review item {item_id} was already {item.status}")
    if not reason.strip():
        raise InputError("a reason is required")
    item.status = "accepted" if accept else "rejected"
    item.decided_by, item.decided_at, item.reason = who.name, now, reason.strip()
    if accept and item.kind in ("encounter", "manual_inspection") and item.traveler_id:
        enc = s.get(Encounter, item.encounter_id)
        assert enc is not None  # encounter and manual_inspection items always name one
        s.add(Crossing(id=new_id(), traveler_id=item.traveler_id, encounter_id=enc.id,
                       occupant_id=item.occupant_id, gallery_id=enc.gallery_id,
                       direction=enc.direction, lane=enc.lane,
                       method="officer_review" if item.kind == "encounter"
                       else "manual_inspection", occurred_at=now))
    audit.append(s, now, who, "review.adjudicate", "review", item.id, decision=item.status,
                 reason=item.reason, traveler_id=item.traveler_id)
    return item
