"""Records the routes read and change without face work: galleries, encounters, the review
queue, crossings and the audit log. Each is one transaction with its audit entry; the
store holds the queries (``store.repo``, ``store.audit``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bordermatch.service.core import ServiceCore
from bordermatch.store import audit, document_reads, repo
from bordermatch.store.keys import Principal
from bordermatch.store.tables import (
    AuditEvent,
    Crossing,
    DocumentRead,
    Encounter,
    Gallery,
    Occupant,
    ReviewItem,
)


def create_gallery(core: ServiceCore, who: Principal, name: str, kind: str,
                   valid_from: datetime, valid_until: datetime,
                   lanes: Sequence[str] = ()) -> Gallery:
    with core.sessions.begin() as s:
        return repo.create_gallery(s, who, core.clock.now(), name, kind, valid_from,
                                   valid_until, lanes)


def set_gallery_lanes(core: ServiceCore, who: Principal, gallery_id: str,
                      lanes: Sequence[str]) -> Gallery:
    with core.sessions.begin() as s:
        return repo.set_gallery_lanes(s, who, core.clock.now(), gallery_id, lanes)


def list_galleries(core: ServiceCore, status: str | None = None) -> list[tuple[Gallery, int]]:
    with core.sessions() as s:
        return list(repo.list_galleries(s, status))


def get_gallery(core: ServiceCore, gallery_id: str) -> tuple[Gallery, int]:
    with core.sessions() as s:
        rows = [(g, n) for g, n in repo.list_galleries(s) if g.id == gallery_id]
        if not rows:
            repo.get_gallery(s, gallery_id)  # raises the 404
        return rows[0]


def close_gallery(core: ServiceCore, who: Principal, gallery_id: str) -> Gallery:
    with core.sessions.begin() as s:
        return repo.close_gallery(s, who, core.clock.now(), gallery_id)


def read_encounter(core: ServiceCore, who: Principal, encounter_id: str,
                   ) -> tuple[Encounter, Sequence[Occupant]]:
    with core.sessions.begin() as s:
        return repo.read_encounter(s, who, core.clock.now(), encounter_id)


def document_read(core: ServiceCore, encounter_id: str) -> DocumentRead | None:
    """The document read of a booth or kiosk encounter (the caller audits the read)."""
    with core.sessions() as s:
        return document_reads.document_read_of(s, encounter_id)


def review_queue(core: ServiceCore, who: Principal, status: str, kind: str | None,
                 limit: int) -> list[ReviewItem]:
    with core.sessions.begin() as s:
        return repo.review_queue(s, who, core.clock.now(), status, kind, limit)


def adjudicate(core: ServiceCore, who: Principal, item_id: str, accept: bool,
               reason: str) -> ReviewItem:
    with core.sessions.begin() as s:
        return repo.adjudicate(s, who, core.clock.now(), item_id, accept, reason)


def crossings(core: ServiceCore, who: Principal, traveler_id: str,
              biometric_only: bool) -> list[Crossing]:
    with core.sessions.begin() as s:
        return list(repo.crossings_for(s, who, core.clock.now(), traveler_id,
                                       biometric_only=biometric_only))


def audit_entries(core: ServiceCore, who: Principal, **query: Any) -> list[AuditEvent]:
    """Audit entries matching ``query``; reading the log is itself recorded."""
    with core.sessions.begin() as s:
        rows = list(audit.query(s, **query))
        audit.append(s, core.clock.now(), who, "audit.read", "audit", None, returned=len(rows))
        return rows


def audit_verify(core: ServiceCore) -> audit.ChainReport:
    with core.sessions() as s:
        return audit.verify_chain(s)
