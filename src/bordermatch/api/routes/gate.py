"""/v1/gate/{gallery}/board: for airline partners. Match or no match and a boarding token;
never a name, a photo, a traveller id or a score (``BoardOut`` forbids extra fields)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Header, UploadFile

from bordermatch.api.auth import AirlinePartner
from bordermatch.api.deps import MultipartOnly, Service, read_upload, request_hash
from bordermatch.api.schemas import BoardOut

router = APIRouter(prefix="/v1/gate", tags=["gate"])


@router.post("/{gallery_id}/board", response_model=BoardOut)
def board(gallery_id: str, who: AirlinePartner, svc: Service, _mp: MultipartOnly,
          photo: Annotated[UploadFile, File()],
          gate: Annotated[str, Form(min_length=1, max_length=32)] = "gate",
          idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key",
                                                        max_length=200)] = None) -> BoardOut:
    data = read_upload(photo, svc.settings.max_upload_bytes, "photo")
    result = svc.board(who, gallery_id, f"gate:{gate}", data, idempotency_key,
                       request_hash("board", gallery_id, gate, data))
    matched = result.encounter.event_ref is not None
    return BoardOut(match=matched, boarding_token=result.encounter.event_ref)
