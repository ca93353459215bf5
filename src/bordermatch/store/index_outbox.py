"""The outbox of a shared 1:N index (``index_outbox``): what the index must still apply.

A change to the templates of a gallery (an enrolment with a template, a purge, an opt-out)
adds its outbox rows in the same transaction as the change, so either both commit or
neither does. The relay (``service/shared_index.py``) applies pending rows in ``seq``
order and marks them applied in one transaction of its own, holding :func:`lock` so that
two relays never apply one gallery's changes out of order. Applying a row twice (a relay
that died between the index write and its commit) is harmless: puts are upserts by
enrolment id and deletes of absent ids do nothing.

Rows are written whatever the configured backend, so a deployment that switches from an
in-process index to a shared one replays its galleries' history. Only applied rows are
pruned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from bordermatch.store.tables import Enrolment, IndexOutboxEntry

# pg_advisory_xact_lock key of the relay (the audit chain uses its own).
_RELAY_LOCK = 0x626D_6978  # "bmix"


def record_put(s: Session, now: datetime, e: Enrolment) -> None:
    """Queue an enrolment's template for the index, if it is a live one."""
    if e.status == "enrolled" and e.template_blob and e.template_model:
        s.add(IndexOutboxEntry(gallery_id=e.gallery_id, model=e.template_model,
                               enrolment_id=e.id, op="put", template_blob=e.template_blob,
                               created_at=now))


def record_delete(s: Session, now: datetime, rows: Iterable[Enrolment]) -> None:
    """Queue the removal of these enrolments' templates. Call before the rows lose their
    template (the model names the collection)."""
    for e in rows:
        if e.template_blob and e.template_model:
            s.add(IndexOutboxEntry(gallery_id=e.gallery_id, model=e.template_model,
                                   enrolment_id=e.id, op="delete", created_at=now))


def lock(s: Session) -> None:
    """Serialise relays for the rest of this transaction. SQLite needs nothing more: every
    transaction of this store starts with BEGIN IMMEDIATE (``store/db.py``)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK})


def has_pending(s: Session, gallery_id: str | None = None) -> bool:
    q = select(IndexOutboxEntry.seq).where(IndexOutboxEntry.applied_at.is_(None))
    if gallery_id is not None:
        q = q.where(IndexOutboxEntry.gallery_id == gallery_id)
    return s.scalar(q.limit(1)) is not None


def pending(s: Session, gallery_id: str | None = None,
            limit: int = 5000) -> list[IndexOutboxEntry]:
    """The oldest pending rows (of one gallery, or all), in the order they must apply."""
    q = select(IndexOutboxEntry).where(IndexOutboxEntry.applied_at.is_(None))
    if gallery_id is not None:
        q = q.where(IndexOutboxEntry.gallery_id == gallery_id)
    return list(s.scalars(q.order_by(IndexOutboxEntry.seq).limit(limit)))


def pending_count(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(IndexOutboxEntry)
                        .where(IndexOutboxEntry.applied_at.is_(None))) or 0)


def mark_applied(s: Session, seqs: Sequence[int], now: datetime) -> None:
    for start in range(0, len(seqs), 500):
        s.execute(update(IndexOutboxEntry)
                  .where(IndexOutboxEntry.seq.in_(seqs[start:start + 500]))
                  .values(applied_at=now))


def still_references(s: Session, enrolment_id: str, template_blob: str) -> bool:
    """Whether the enrolment still holds this template (a put whose blob is gone was
    overtaken by a purge or opt-out, whose delete row follows it)."""
    return s.scalar(select(Enrolment.id).where(Enrolment.id == enrolment_id,
                                                Enrolment.template_blob == template_blob)
                    ) is not None


def requeue_gallery(s: Session, now: datetime, gallery_id: str, model: str) -> int:
    """Queue every live template of a gallery again (after its collection was lost)."""
    rows = list(s.scalars(select(Enrolment).where(
        Enrolment.gallery_id == gallery_id, Enrolment.status == "enrolled",
        Enrolment.template_blob.is_not(None), Enrolment.template_model == model)
        .order_by(Enrolment.enrolled_at, Enrolment.id)))
    for e in rows:
        record_put(s, now, e)
    return len(rows)


def prune_applied(s: Session, before: datetime) -> int:
    """Drop rows applied before ``before``: a shared index no longer needs them."""
    result = s.execute(delete(IndexOutboxEntry).where(IndexOutboxEntry.applied_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
