"""The rows behind one review item's page: every reference photo of every identity in
question, the capture decided on, and the vehicle or gate encounter it came from.

A photo is named by a page id, ``ref-<enrolment id>``, ``cap-<occupant id>``,
``doc-<document read id>``, or for a fingerprint hit ``fpp-<probe id>`` (a print taken on
the handheld) and ``fpe-<watchlist finger id>`` (the subject's enrolled print a probe was
matched to), and only the photos of the item itself can be fetched through it. Reading
the item and each photo is an audit entry in the caller's transaction (``audit.append``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bordermatch.errors import UnknownRecordError
from bordermatch.store import audit
from bordermatch.store import fingerprints as fpstore
from bordermatch.store.keys import Principal
from bordermatch.store.tables import (
    DocumentRead,
    Encounter,
    Enrolment,
    Gallery,
    Occupant,
    ReviewItem,
    Traveler,
)


@dataclass(frozen=True, slots=True)
class Identity:
    """One identity in question: ``role`` is "traveler" (the one the item names), "other"
    (the runner-up or alias partner) or "holder" (an unmatched document's holder)."""

    role: str
    traveler_id: str
    traveler: Traveler | None
    references: tuple[Enrolment, ...]  # oldest first, purged ones included


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    item: ReviewItem
    gallery: Gallery | None
    encounter: Encounter | None
    subject: Occupant | None  # the occupant (face) the item is about
    occupants: tuple[Occupant, ...]  # everyone in that vehicle or gate photo
    identities: tuple[Identity, ...]
    travelers: dict[str, Traveler]  # the identities and every named occupant
    documents: tuple[DocumentRead, ...] = ()  # a booth's reads: the chip or data-page photo
    fingerprint: fpstore.HitView | None = None  # a handheld search's watchlist hit


def photo_state(blob: str | None, purged_at: datetime | None, status: str = "") -> str:
    """What the page shows for one photo: "stored", "purged", "opted_out" or "none"."""
    if blob:
        return "stored"
    if purged_at is not None or status == "purged":
        return "purged"
    return "opted_out" if status == "opted_out" else "none"


def _load(s: Session, item_id: str) -> ReviewRecord:
    item = s.get(ReviewItem, item_id)
    if item is None:
        raise UnknownRecordError(f"no review item {item_id!r}")
    enc = s.get(Encounter, item.encounter_id) if item.encounter_id else None
    occupants: tuple[Occupant, ...] = ()
    if enc is not None:
        occupants = tuple(s.scalars(select(Occupant).where(Occupant.encounter_id == enc.id)
                                    .order_by(Occupant.track_id)))
    subject = next((o for o in occupants if o.id == item.occupant_id), None)
    roles = [("holder" if item.kind == "unmatched_document" else "traveler", item.traveler_id),
             ("other", item.other_traveler_id)]
    ids = sorted({t for _, t in roles if t} | {o.traveler_id for o in occupants
                                                if o.traveler_id})
    travelers = ({t.id: t for t in s.scalars(select(Traveler).where(Traveler.id.in_(ids)))}
                 if ids else {})
    identities = []
    for role, tid in roles:
        if not tid:
            continue
        refs: tuple[Enrolment, ...] = ()
        if item.gallery_id:
            refs = tuple(s.scalars(select(Enrolment).where(
                Enrolment.gallery_id == item.gallery_id, Enrolment.traveler_id == tid)
                .order_by(Enrolment.enrolled_at, Enrolment.id)))
        identities.append(Identity(role, tid, travelers.get(tid), refs))
    documents: tuple[DocumentRead, ...] = ()
    if enc is not None:
        documents = tuple(s.scalars(select(DocumentRead).where(
            DocumentRead.encounter_id == enc.id).order_by(DocumentRead.id)))
    hit = fpstore.hit_view(s, item.fingerprint_search_id) if item.fingerprint_search_id \
        else None
    return ReviewRecord(item, s.get(Gallery, item.gallery_id) if item.gallery_id else None,
                        enc, subject, occupants, tuple(identities), travelers, documents, hit)


def read_review(s: Session, who: Principal, now: datetime, item_id: str) -> ReviewRecord:
    """The item's page, read by ``who`` (audited with the identities and photos shown)."""
    rec = _load(s, item_id)
    hit = rec.fingerprint
    audit.append(s, now, who, "review.read", "review", rec.item.id,
                 travelers=[i.traveler_id for i in rec.identities],
                 photos=sorted(photo_blobs(rec)),
                 **({"watchlist_subject": hit.search.subject_id} if hit else {}))
    return rec


def photo_blobs(rec: ReviewRecord) -> dict[str, str]:
    """Page photo id -> blob id, for every stored photo of the item."""
    out = {f"ref-{e.id}": e.photo_blob for i in rec.identities for e in i.references
           if e.photo_blob}
    out |= {f"cap-{o.id}": o.capture_blob for o in rec.occupants if o.capture_blob}
    out |= {f"doc-{d.id}": d.photo_blob for d in rec.documents if d.photo_blob}
    if rec.fingerprint is not None:
        out |= {f"fpp-{p.id}": p.image_blob for p in rec.fingerprint.probes if p.image_blob}
        out |= {f"fpe-{f.id}": f.image_blob for f in rec.fingerprint.enrolled
                if f.image_blob}
    return out


def review_photo_blob(s: Session, who: Principal, now: datetime, item_id: str,
                      photo_id: str) -> str:
    """The blob id of one photo of a review item; the access is audited. UnknownRecordError
    for a photo that is not the item's, or that is no longer stored (purged)."""
    rec = _load(s, item_id)
    blob = photo_blobs(rec).get(photo_id)
    if blob is None:
        raise UnknownRecordError(f"review item {item_id} has no stored photo {photo_id!r}")
    audit.append(s, now, who, "review.photo", "review", rec.item.id, photo=photo_id)
    return blob
