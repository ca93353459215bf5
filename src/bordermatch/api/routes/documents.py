"""/v1/documents/verify: a booth's or kiosk's 1:1 check of a traveller against a document.

The booth sends the chip files as its reader returned them (``dg1``, ``dg2``, ``ef_sod``,
optionally ``ef_com``) or the MRZ lines with a photo of the data page, and a live photo. The
answer carries the document checks (they are about the document the booth holds) and the
decisions, never the traveller the document names or the score: a stolen booth key learns
nothing about who is enrolled (docs/service.md, threat model).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from bordermatch.api.auth import BoothDevice
from bordermatch.api.deps import (
    IdempotencyKey,
    MultipartOnly,
    Service,
    image_work,
    read_image,
    request_hash,
)
from bordermatch.api.schemas import BoothOut, Direction
from bordermatch.api.strings import FormId, FormMrz
from bordermatch.errors import LdsTooLargeError
from bordermatch.service import BoothResult, BoothUpload
from bordermatch.store.tables import DocumentRead

router = APIRouter(prefix="/v1/documents", tags=["documents"])

ChipFile = Annotated[UploadFile | None, File(description="An LDS file as the reader returned it")]


def _read_lds(upload: UploadFile, limit: int, name: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise LdsTooLargeError(f"{name}: more than {limit} bytes; no chip file is this large")
    return data


@router.post("/verify", status_code=201, response_model=BoothOut)
def verify_document(
    request: Request, response: Response, who: BoothDevice, svc: Service, _mp: MultipartOnly,
    gallery_id: FormId,
    lane: FormId,
    direction: Annotated[Direction, Form()],
    live: Annotated[UploadFile, File(description="The live photo taken at the booth")],
    dg1: ChipFile = None,
    dg2: ChipFile = None,
    ef_sod: ChipFile = None,
    ef_com: ChipFile = None,
    mrz: FormMrz = None,
    data_page: Annotated[UploadFile | None, File(
        description="Photo of the data page (with an MRZ read instead of the chip)")] = None,
    idempotency_key: IdempotencyKey = None,
) -> BoothOut:
    """The document's checks and the 1:1 comparison of the live face with its photo."""
    settings = svc.settings
    parts: dict[str | int, UploadFile | None] = {"com": ef_com, 1: dg1, 2: dg2, "sod": ef_sod}
    chip = {key: _read_lds(f, settings.max_lds_bytes, f"chip file {key}")
            for key, f in parts.items() if f is not None}
    lines = tuple(ln.strip() for ln in (mrz or "").splitlines() if ln.strip())
    page = (read_image(data_page, settings, settings.enrol_max_pixels, "data_page")
            if data_page is not None else None)
    upload = BoothUpload(read_image(live, settings, settings.verify_max_pixels, "live"),
                         chip or None, lines or None, page)
    digest = request_hash("booth", gallery_id, lane, direction, "\n".join(lines),
                          page, upload.live,
                          *(f"{k}\0".encode() + v for k, v in sorted(
                              chip.items(), key=lambda kv: str(kv[0]))))
    with image_work(settings):
        result = svc.booth_verify(who, gallery_id, lane, direction, upload, idempotency_key,
                                  digest)
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    else:
        request.app.state.metrics.record_occupants(lane, (result.occupant,))
    return booth_out(result)


def document_check(read: DocumentRead) -> dict[str, Any]:
    """The ``DocumentCheckOut`` of a stored read (the booth's answer, an officer's view)."""
    return {
        "source": read.source, "document_type": read.document_type,
        "document_number": read.document_number, "nationality": read.nationality,
        "issuing_state": read.issuing_state, "expiry_date": read.expiry_date,
        "expired": read.expired, "mrz_valid": read.mrz_valid,
        "mrz_checks": list(read.mrz_checks),
        "passive_authentication": None if read.passive_auth is None else {
            "status": read.passive_auth, "details": list(read.passive_auth_details)}}


def booth_out(r: BoothResult) -> BoothOut:
    read, occ, enc = r.read, r.occupant, r.encounter
    # Validated, not cast: a stored value outside the schema's literals is a 500, not a lie.
    return BoothOut.model_validate({
        "id": enc.id, "kind": enc.kind, "gallery_id": enc.gallery_id, "lane": enc.lane,
        "direction": enc.direction, "created_at": enc.created_at, "decision": occ.decision,
        "reasons": list(read.reasons), "face": read.face_decision, "quality": occ.quality,
        "document": document_check(read),
        # Only a verified read is evidence for a lane: a forged or failed one would let the
        # lane verify a car's faces 1:few against whoever the forger named.
        "document_read": {"document_type": read.document_type,
                          "document_number": read.document_number,
                          "nationality": read.nationality, "source": read.source}
        if occ.decision == "match" else None})
