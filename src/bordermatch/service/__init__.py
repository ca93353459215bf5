"""The application layer: enrolment, 1:1 verification, gate and vehicle encounters,
handheld fingerprint searches and the fingerprint watchlist.

It composes the pure core (face engine, lane pipeline, the one decision rule) with the
store (rows, blobs, audit, retention). Routes and commands call :class:`BorderService`;
the store only persists.
"""

from __future__ import annotations

from collections.abc import Sequence

from bordermatch.match.engine import Verification
from bordermatch.service import booth as _booth
from bordermatch.service import enrol as _enrol
from bordermatch.service import fingerprints as _fingerprints
from bordermatch.service import gate as _gate
from bordermatch.service import records as _records
from bordermatch.service import review as _review
from bordermatch.service import vehicle as _vehicle
from bordermatch.service import verify as _verify
from bordermatch.service.booth import BoothResult, BoothUpload
from bordermatch.service.core import EncounterResult, ServiceCore, check_index_backend
from bordermatch.service.enrol import EnrolResult
from bordermatch.store import fingerprints as fpstore
from bordermatch.store import repo
from bordermatch.store.keys import Principal
from bordermatch.store.tables import Traveler, WatchlistFinger, WatchlistSubject

__all__ = ["BoothResult", "BoothUpload", "BorderService", "EncounterResult", "EnrolResult",
           "check_index_backend"]


class BorderService(ServiceCore):
    """The workflows, one method each (their code lives in the modules of this package)."""

    def enrol(self, who: Principal, gallery_id: str, bio: repo.Biographics,
              photo: bytes | None) -> EnrolResult:
        return _enrol.enrol(self, who, gallery_id, bio, photo)

    def add_reference(self, who: Principal, gallery_id: str, traveler_id: str,
                      photo: bytes) -> EnrolResult:
        return _enrol.add_reference(self, who, gallery_id, traveler_id, photo)

    def update_traveler(self, who: Principal, traveler_id: str, changes: dict[str, object],
                        reason: str) -> Traveler:
        """A supervisor's correction of a traveller's names or citizenship (audited)."""
        now = self.clock.now()
        with self.sessions.begin() as s:
            t = repo.update_traveler(s, who, now, traveler_id, changes, reason,
                                     self.retention_until(now, True))
        self.forget_galleries()
        return t

    def verify(self, who: Principal, live: bytes, document: bytes) -> Verification:
        return _verify.verify(self, who, live, document)

    def gate_encounter(self, who: Principal, gallery_id: str, lane: str, direction: str,
                       photo: bytes, idempotency_key: str | None,
                       request_hash: str) -> EncounterResult:
        return _gate.gate_encounter(self, who, gallery_id, lane, direction, photo,
                                    idempotency_key, request_hash)

    def board(self, who: Principal, gallery_id: str, lane: str, photo: bytes,
              idempotency_key: str | None, request_hash: str) -> EncounterResult:
        return _gate.board(self, who, gallery_id, lane, photo, idempotency_key, request_hash)

    def opt_out_encounter(self, who: Principal, gallery_id: str, lane: str, direction: str,
                          traveler_id: str, idempotency_key: str | None,
                          request_hash: str) -> EncounterResult:
        return _gate.opt_out_encounter(self, who, gallery_id, lane, direction, traveler_id,
                                       idempotency_key, request_hash)

    def vehicle_encounter(self, who: Principal, gallery_id: str, event: str,
                          frames: Sequence[tuple[str, bytes]], idempotency_key: str | None,
                          request_hash: str) -> EncounterResult:
        return _vehicle.vehicle_encounter(self, who, gallery_id, event, frames,
                                          idempotency_key, request_hash)

    def booth_verify(self, who: Principal, gallery_id: str, lane: str, direction: str,
                     upload: BoothUpload, idempotency_key: str | None,
                     request_hash: str) -> BoothResult:
        return _booth.booth_verify(self, who, gallery_id, lane, direction, upload,
                                   idempotency_key, request_hash)

    # -- fingerprints (service/fingerprints.py) ----------------------------------------------
    def fingerprint_search(self, who: Principal, lane: str,
                           fingers: Sequence[_fingerprints.FingerUpload],
                           document: tuple[str, str] | None, citizen: bool | None,
                           idempotency_key: str | None = None, request_hash: str = "",
                           ) -> _fingerprints.SearchOutcome:
        return _fingerprints.search(self, who, lane, fingers, document, citizen,
                                    idempotency_key, request_hash)

    def enrol_watchlist_subject(self, who: Principal, subject_id: str, reference: str,
                                fingers: Sequence[_fingerprints.FingerUpload]
                                ) -> WatchlistSubject:
        return _fingerprints.enrol_images(self, who, subject_id, reference, fingers)

    def watchlist_fingers(self, subject_id: str) -> list[WatchlistFinger]:
        """The positions and qualities of a subject's enrolled fingers (no biometric data)."""
        with self.sessions() as s:
            return fpstore.subject_fingers(s, subject_id)

    # -- records without face work (service/records.py) -------------------------------
    create_gallery = _records.create_gallery
    list_galleries = _records.list_galleries
    get_gallery = _records.get_gallery
    close_gallery = _records.close_gallery
    set_gallery_lanes = _records.set_gallery_lanes
    read_encounter = _records.read_encounter
    document_read = _records.document_read
    review_queue = _records.review_queue
    review_page = _review.review_page
    review_photo = _review.review_photo
    adjudicate = _records.adjudicate
    crossings = _records.crossings
    audit_entries = _records.audit_entries
    audit_verify = _records.audit_verify
