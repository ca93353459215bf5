"""/v1/encounters: a gate photo, a vehicle event, or an opt-out; fetch one encounter.

Submissions take an ``Idempotency-Key`` header: a retry with the same key and the same
content returns the first result (200, ``Idempotent-Replayed: true``) instead of a second
record; the same key with different content is a 409.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from bordermatch.api import forward
from bordermatch.api.auth import GateDevice, LaneDevice, Officer, OptOutRecorder
from bordermatch.api.deps import (
    FramesMultipart,
    IdempotencyKey,
    MultipartOnly,
    Service,
    check_event,
    image_work,
    read_image,
    request_hash,
)
from bordermatch.api.routes.documents import document_check
from bordermatch.api.schemas import (
    Direction,
    DocumentCheckOut,
    EncounterOut,
    OccupantOut,
    OptOutIn,
)
from bordermatch.api.strings import FormId, PathId64
from bordermatch.ingest.messages import EncounterMessage
from bordermatch.service import EncounterResult
from bordermatch.store.keys import Principal

router = APIRouter(prefix="/v1/encounters", tags=["encounters"])


# A lane or gate device opens a barrier or sends the traveller to secondary: it needs the
# decision and the capture quality (to ask for a recapture), never who it matched or how
# well. Officers read the whole record with GET /v1/encounters/{id}.
DEVICE_ROLES = ("lane_device", "gate_device")


def encounter_out(enc, occupants, redact: bool = False) -> EncounterOut:
    return EncounterOut(
        id=enc.id, kind=enc.kind, gallery_id=enc.gallery_id, lane=enc.lane,
        direction=enc.direction, created_at=enc.created_at, latency_ms=enc.latency_ms,
        occupants=[OccupantOut(track_id=o.track_id, decision=o.decision, quality=o.quality,
                               row=o.row, seat=o.seat)
                   if redact else
                   OccupantOut(track_id=o.track_id, traveler_id=o.traveler_id, score=o.score,
                               decision=o.decision, reason=o.reason, source=o.source,
                               quality=o.quality, row=o.row, seat=o.seat)
                   for o in occupants])


def respond(result: EncounterResult, request: Request, response: Response,
            who: Principal) -> EncounterOut:
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    else:
        request.app.state.metrics.record_occupants(result.encounter.lane, result.occupants)
    return encounter_out(result.encounter, result.occupants, who.role in DEVICE_ROLES)


@router.post("/gate", status_code=201, response_model=EncounterOut)
def gate_encounter(
    request: Request, response: Response, who: GateDevice, svc: Service, _mp: MultipartOnly,
    gallery_id: FormId,
    lane: FormId,
    direction: Annotated[Direction, Form()],
    photo: Annotated[UploadFile, File()],
    idempotency_key: IdempotencyKey = None,
) -> EncounterOut | Response:
    """A gate photo: one decision per face in it (1:N against the gallery)."""
    data = read_image(photo, svc.settings, svc.settings.gate_max_pixels, "photo")
    if forward.broker_mode(svc.settings):
        return forward.forward(request, svc.settings, EncounterMessage(
            "gate", forward.encounter_id(idempotency_key), gallery_id, lane=lane,
            direction=direction, photo=data))
    with image_work(svc.settings):
        result = svc.gate_encounter(who, gallery_id, lane, direction, data, idempotency_key,
                                    request_hash("gate", gallery_id, lane, direction, data))
    return respond(result, request, response, who)


@router.post("/opt-out", status_code=201, response_model=EncounterOut)
def opt_out(body: OptOutIn, request: Request, response: Response, who: OptOutRecorder,
            svc: Service, idempotency_key: IdempotencyKey = None) -> EncounterOut | Response:
    """The traveller declines the photo: nothing is captured; a manual inspection is queued."""
    if forward.broker_mode(svc.settings):
        return forward.forward(request, svc.settings, EncounterMessage(
            "opt_out", forward.encounter_id(idempotency_key), body.gallery_id, lane=body.lane,
            direction=body.direction, traveler_id=body.traveler_id))
    result = svc.opt_out_encounter(
        who, body.gallery_id, body.lane, body.direction, body.traveler_id, idempotency_key,
        request_hash("opt_out", body.model_dump_json()))
    return respond(result, request, response, who)


@router.post("/vehicle", status_code=201, response_model=EncounterOut)
def vehicle_encounter(
    request: Request, response: Response, who: LaneDevice, svc: Service, _mp: FramesMultipart,
    gallery_id: FormId,
    event: Annotated[str, Form(description="event.json of DESIGN.md, as a string")],
    frames: Annotated[list[UploadFile], File(
        description="Frames named <camera_id>/<seq:04d>_<t_ms>.jpg")],
    idempotency_key: IdempotencyKey = None,
) -> EncounterOut | Response:
    """A vehicle event from the lane cameras: one decision per occupant."""
    settings = svc.settings
    check_event(event, settings)
    named = [((f.filename or "").replace("\\", "/"),
              read_image(f, settings, settings.frame_max_pixels, "frame")) for f in frames]
    if forward.broker_mode(settings):
        meta = json.loads(event)  # check_event has parsed it once already
        return forward.forward(request, settings, EncounterMessage(
            "vehicle", forward.encounter_id(idempotency_key), gallery_id,
            lane=str(meta.get("lane", "")), direction=str(meta.get("direction", "entry")),
            event=event, frames=tuple(named)))
    digest = request_hash("vehicle", gallery_id, event, *(n + "\0" for n, _ in named),
                          *(d for _, d in named))
    # One slot for the event: the lane pipeline decodes its frames one after another.
    with image_work(settings):
        result = svc.vehicle_encounter(who, gallery_id, event, named, idempotency_key, digest)
    return respond(result, request, response, who)


@router.get("/{encounter_id}", response_model=EncounterOut)
def get_encounter(encounter_id: PathId64, who: Officer, svc: Service) -> EncounterOut:
    enc, occupants = svc.read_encounter(who, encounter_id)
    out = encounter_out(enc, occupants)
    read = svc.document_read(enc.id)  # a booth's or kiosk's; covered by encounter.read
    if read is not None:
        out.document = DocumentCheckOut.model_validate(document_check(read))
    return out
