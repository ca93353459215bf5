"""/v1/gate/{gallery}/board: for airline partners. Match or no match and a boarding token;
never a name, a photo, a traveller id or a score (``BoardOut`` forbids extra fields)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from bordermatch.api import forward
from bordermatch.api.auth import AirlinePartner
from bordermatch.api.deps import (
    IdempotencyKey,
    MultipartOnly,
    Service,
    image_work,
    read_image,
    request_hash,
)
from bordermatch.api.schemas import BoardOut
from bordermatch.api.strings import FormCode, PathId64
from bordermatch.ingest.messages import EncounterMessage

router = APIRouter(prefix="/v1/gate", tags=["gate"])


@router.post("/{gallery_id}/board", response_model=BoardOut)
def board(request: Request, gallery_id: PathId64, who: AirlinePartner, svc: Service,
          _mp: MultipartOnly,
          photo: Annotated[UploadFile, File()],
          gate: FormCode = "gate",
          idempotency_key: IdempotencyKey = None) -> BoardOut | Response:
    data = read_image(photo, svc.settings, svc.settings.gate_max_pixels, "photo")
    if forward.broker_mode(svc.settings):
        return forward.forward(request, svc.settings, EncounterMessage(
            "board", forward.encounter_id(idempotency_key), gallery_id, lane=f"gate:{gate}",
            direction="exit", photo=data))
    with image_work(svc.settings):
        result = svc.board(who, gallery_id, f"gate:{gate}", data, idempotency_key,
                           request_hash("board", gallery_id, gate, data))
    matched = result.encounter.event_ref is not None
    return BoardOut(match=matched, boarding_token=result.encounter.event_ref)
