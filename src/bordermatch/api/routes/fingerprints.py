"""/v1/fingerprints/search (handheld devices) and /v1/watchlist/subjects (supervisors).

A handheld answer is the decision and the capture qualities only: who is on the watchlist,
and how well a print matched, is for the officer who opens the review item of a hit
(``/review``), as a lane or gate device learns decisions, not identities. Airline partners,
gate and lane devices are refused (403) like every role the route does not name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile

from bordermatch.api.auth import MobileDevice, Supervisor
from bordermatch.api.deps import (
    FingersMultipart,
    IdempotencyKey,
    Service,
    image_work,
    read_upload,
    request_hash,
)
from bordermatch.api.schemas import FingerprintSearchOut, FingerQualityOut, WatchlistSubjectOut
from bordermatch.api.strings import (
    FormCountryOptional,
    FormId,
    FormIdOptional,
    FormName,
    FormPositions,
)
from bordermatch.errors import InputError
from bordermatch.service.fingerprints import FingerUpload, parse_positions

router = APIRouter(tags=["fingerprints"])

FingerFiles = Annotated[list[UploadFile], File(
    description="1-10 finger images (PNG, TIFF, JPEG or WSQ at 500 ppi) or ISO/IEC 19794-2:2005 "
                "templates, in the order of `positions`")]
# `positions`: ISO/IEC 19794-2 finger codes (0 unknown, 1 right thumb ... 10 left little) or
# names, comma-separated, one per finger.
Positions = FormPositions


def _uploads(svc, fingers: list[UploadFile], positions: str) -> list[FingerUpload]:
    codes = parse_positions(positions, len(fingers))
    return [FingerUpload(f"fingers[{i}]", read_upload(f, svc.settings.max_upload_bytes,
                                                      f"fingers[{i}]"), code)
            for i, (f, code) in enumerate(zip(fingers, codes, strict=True))]


@router.post("/v1/fingerprints/search", status_code=201, response_model=FingerprintSearchOut)
def search(response: Response, who: MobileDevice, svc: Service, _mp: FingersMultipart,
           lane: FormId, fingers: FingerFiles, positions: Positions,
           document_number: FormIdOptional = None,
           nationality: FormCountryOptional = None,
           citizen: Annotated[bool | None, Form(
               description="The device's reading of citizenship, when no document is "
                           "given or it names no enrolled traveller")] = None,
           idempotency_key: IdempotencyKey = None,
           ) -> FingerprintSearchOut:
    """Search a traveller's fingers against the watchlist: `hit` (an officer reviews it),
    `no_hit`, or `recapture` (a finger's NFIQ 2 score is below the configured floor).
    A retry with the same `Idempotency-Key` and content gets the first answer (200)."""
    if (document_number is None) != (nationality is None):
        raise InputError("give the document's number and nationality together, or neither")
    document = (document_number, nationality.upper()) \
        if document_number is not None and nationality is not None else None
    uploads = _uploads(svc, fingers, positions)
    digest = request_hash("fingerprint", lane, positions, document_number, nationality,
                          str(citizen), *(u.data for u in uploads))
    with image_work(svc.settings):
        out = svc.fingerprint_search(who, lane, uploads, document, citizen, idempotency_key,
                                     digest)
    if out.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"

    def row(f) -> FingerQualityOut:
        return FingerQualityOut(finger=f.finger, position=f.position, quality=f.quality)

    return FingerprintSearchOut(
        id=out.search.id, decision=out.search.decision, lane=out.search.lane,  # type: ignore[arg-type]
        created_at=out.search.created_at, fingers=[row(f) for f in out.fingers],
        min_quality=out.min_quality, recapture=[row(f) for f in out.recapture])


@router.post("/v1/watchlist/subjects", status_code=201, response_model=WatchlistSubjectOut)
def enrol_subject(who: Supervisor, svc: Service, _mp: FingersMultipart,
                  subject_id: FormId, reference: FormName, fingers: FingerFiles,
                  positions: Positions) -> WatchlistSubjectOut:
    """Put a subject on the watchlist with 1-10 finger images (a supervisor's action,
    audited); each print must reach the NFIQ 2 floor (422 `poor_capture`)."""
    uploads = _uploads(svc, fingers, positions)
    with image_work(svc.settings):
        subject = svc.enrol_watchlist_subject(who, subject_id, reference, uploads)
        listed = svc.watchlist_fingers(subject.id)
    return WatchlistSubjectOut(
        id=subject.id, reference=subject.reference, enrolled_at=subject.enrolled_at,
        fingers=[FingerQualityOut(finger=i, position=f.position, quality=f.quality)
                 for i, f in enumerate(listed)])
