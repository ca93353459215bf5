"""Queries of booth and kiosk document reads (``tables.DocumentRead``); ``repo.add_encounter``
stores them in the encounter's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bordermatch.store.tables import DocumentRead, Enrolment, Traveler


@dataclass(frozen=True, slots=True)
class DocumentReadRecord:
    """A booth's document read, stored with the occupant of ``track_id`` (tables.DocumentRead)."""

    track_id: int
    source: str
    document_type: str
    document_number: str
    nationality: str
    issuing_state: str
    expiry_date: str | None
    expired: bool
    mrz_valid: bool
    mrz_checks: list[dict[str, Any]]
    passive_auth: str | None
    passive_auth_details: list[str]
    reasons: list[str]
    face_decision: str | None
    photo_blob: str | None = None
    purge_after: datetime | None = None


def add(s: Session, encounter_id: str, occupants: Mapping[int, tuple[str, str | None]],
        reads: Sequence[DocumentReadRecord], now: datetime) -> None:
    """``occupants``: track id -> (occupant id, traveller id) of the encounter just stored."""
    for d in reads:
        occupant_id, traveler_id = occupants[d.track_id]
        s.add(DocumentRead(
            id=str(uuid.uuid4()), encounter_id=encounter_id,
            occupant_id=occupant_id, traveler_id=traveler_id,
            source=d.source, document_type=d.document_type, document_number=d.document_number,
            nationality=d.nationality, issuing_state=d.issuing_state,
            expiry_date=d.expiry_date, expired=d.expired, mrz_valid=d.mrz_valid,
            mrz_checks=d.mrz_checks, passive_auth=d.passive_auth,
            passive_auth_details=d.passive_auth_details, reasons=d.reasons,
            face_decision=d.face_decision, photo_blob=d.photo_blob,
            purge_after=d.purge_after, created_at=now))


def document_read_of(s: Session, encounter_id: str) -> DocumentRead | None:
    return s.scalar(select(DocumentRead).where(DocumentRead.encounter_id == encounter_id)
                    .limit(1))


def traveler_for_document(s: Session, gallery_id: str, document_number: str,
                          nationality: str) -> Traveler | None:
    """The traveller a document read names in a gallery (as a lane's read does), or None."""
    tid = s.scalar(select(Enrolment.traveler_id).where(
        Enrolment.gallery_id == gallery_id, Enrolment.status.in_(("enrolled", "opted_out")),
        Enrolment.document_number == document_number,
        Enrolment.nationality == nationality).limit(1))
    return None if tid is None else s.get(Traveler, tid)
