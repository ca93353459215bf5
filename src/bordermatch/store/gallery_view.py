"""Read-only queries of the gallery page (``web/gallery_page.py``): its travellers, paged,
the enrolment report and the open alias alerts. Listing travellers is an audited access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bordermatch.errors import InputError
from bordermatch.store import audit, repo
from bordermatch.store.keys import Principal
from bordermatch.store.tables import Enrolment, Gallery, ReviewItem, Traveler

PAGE_SIZE = 50
# As `gallery build --min-quality`: a reference below it is enrolled but flagged.
LOW_QUALITY = 30.0


@dataclass(frozen=True, slots=True)
class TravelerRow:
    traveler: Traveler
    references: int  # enrolment rows (one per document or extra photo)
    enrolled: int  # with a usable template now
    statuses: tuple[str, ...]
    best_quality: float | None
    first_enrolled: datetime
    purge_after: datetime | None


@dataclass(frozen=True, slots=True)
class TravelerPage:
    rows: tuple[TravelerRow, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class EnrolmentReport:
    travelers: int
    references: int
    by_status: dict[str, int]
    with_template: int
    photo_only: int  # references without a document (e.g. an added photo)
    several_references: int  # travellers holding more than one reference
    citizens: int
    opted_out: int
    quality_min: float | None
    quality_mean: float | None
    low_quality: int  # references below LOW_QUALITY
    next_purge: datetime | None


@dataclass(frozen=True, slots=True)
class AliasAlert:
    item: ReviewItem
    traveler: Traveler | None
    other: Traveler | None


def travelers_page(s: Session, who: Principal, now: datetime, gallery: Gallery,
                   page: int = 1, size: int = PAGE_SIZE) -> TravelerPage:
    """One page of the gallery's travellers, by traveller id; the access is audited."""
    if page < 1:
        raise InputError("page numbers start at 1")
    total = s.scalar(select(func.count(func.distinct(Enrolment.traveler_id)))
                     .where(Enrolment.gallery_id == gallery.id)) or 0
    ids = list(s.scalars(select(Enrolment.traveler_id).where(Enrolment.gallery_id == gallery.id)
                         .group_by(Enrolment.traveler_id).order_by(Enrolment.traveler_id)
                         .offset((page - 1) * size).limit(size)))
    enrolments: dict[str, list[Enrolment]] = {t: [] for t in ids}
    if ids:
        for e in s.scalars(select(Enrolment).where(Enrolment.gallery_id == gallery.id,
                                                   Enrolment.traveler_id.in_(ids))
                           .order_by(Enrolment.enrolled_at, Enrolment.id)):
            enrolments[e.traveler_id].append(e)
    people = repo.travelers_by_id(s, ids)
    rows = []
    for tid in ids:
        es = enrolments[tid]
        qualities = [e.quality for e in es if e.quality is not None]
        dues = [e.purge_after for e in es if e.purge_after is not None and e.purged_at is None]
        rows.append(TravelerRow(people[tid], len(es),
                                sum(e.status == "enrolled" and e.template_blob is not None
                                    for e in es),
                                tuple(sorted({e.status for e in es})),
                                max(qualities, default=None), es[0].enrolled_at,
                                min(dues, default=None)))
    audit.append(s, now, who, "gallery.read", "gallery", gallery.id, page=page, travelers=ids)
    pages = max(1, -(-int(total) // size))
    return TravelerPage(tuple(rows), page, pages, int(total))


def enrolment_report(s: Session, gallery_id: str) -> EnrolmentReport:
    """Counts over the gallery's enrolments (no PII; the page's audit entry covers it)."""
    by_status = {status: int(n) for status, n in s.execute(
        select(Enrolment.status, func.count(Enrolment.id))
        .where(Enrolment.gallery_id == gallery_id).group_by(Enrolment.status))}
    mine = Enrolment.gallery_id == gallery_id
    with_template = s.scalar(select(func.count(Enrolment.id))
                             .where(mine, Enrolment.template_blob.is_not(None))) or 0
    photo_only = s.scalar(select(func.count(Enrolment.id))
                          .where(mine, Enrolment.document_number.is_(None))) or 0
    per_traveler = (select(Enrolment.traveler_id, func.count(Enrolment.id).label("n"))
                    .where(mine).group_by(Enrolment.traveler_id).subquery())
    travelers = s.scalar(select(func.count()).select_from(per_traveler)) or 0
    several = s.scalar(select(func.count()).select_from(per_traveler)
                       .where(per_traveler.c.n > 1)) or 0
    people = select(Enrolment.traveler_id).where(mine).distinct().subquery()
    citizens, opted_out = s.execute(
        select(func.count().filter(Traveler.citizen.is_(True)),
               func.count().filter(Traveler.opted_out.is_(True)))
        .select_from(Traveler).join(people, people.c.traveler_id == Traveler.id)).one()
    q_min, q_mean, low = s.execute(
        select(func.min(Enrolment.quality), func.avg(Enrolment.quality),
               func.count().filter(Enrolment.quality < LOW_QUALITY)).where(mine)).one()
    next_purge = s.scalar(select(func.min(Enrolment.purge_after))
                          .where(mine, Enrolment.purged_at.is_(None)))
    return EnrolmentReport(int(travelers), sum(by_status.values()), by_status,
                           int(with_template), int(photo_only), int(several), int(citizens),
                           int(opted_out), None if q_min is None else float(q_min),
                           None if q_mean is None else float(q_mean), int(low), next_purge)


def open_alias_alerts(s: Session, gallery_id: str, limit: int = 200) -> list[AliasAlert]:
    """The gallery's open alias alerts, oldest first, with both identities."""
    items = list(s.scalars(select(ReviewItem).where(
        ReviewItem.kind == "alias", ReviewItem.status == "open",
        ReviewItem.gallery_id == gallery_id)
        .order_by(ReviewItem.created_at, ReviewItem.id).limit(limit)))
    ids = [t for i in items for t in (i.traveler_id, i.other_traveler_id) if t]
    people = repo.travelers_by_id(s, ids)
    return [AliasAlert(i, people.get(i.traveler_id or ""), people.get(i.other_traveler_id or ""))
            for i in items]
