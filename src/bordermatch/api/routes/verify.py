"""/v1/verify: 1:1, a live photo against a document photo. Nothing is stored but the audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from bordermatch.api.auth import Verifier
from bordermatch.api.deps import MultipartOnly, Service, image_work, read_image
from bordermatch.api.schemas import VerifyOut

router = APIRouter(prefix="/v1", tags=["verify"])


@router.post("/verify", response_model=VerifyOut)
def verify(who: Verifier, svc: Service, _mp: MultipartOnly,
           live: Annotated[UploadFile, File()],
           document: Annotated[UploadFile, File()]) -> VerifyOut:
    settings = svc.settings
    a = read_image(live, settings, settings.verify_max_pixels, "live")
    b = read_image(document, settings, settings.verify_max_pixels, "document")
    with image_work(settings):
        r = svc.verify(who, a, b)
    if who.role == "gate_device":
        return VerifyOut(decision=r.decision.outcome.value, reason=r.decision.reason.value,
                         quality_live=r.a.quality.unified,
                         quality_document=r.b.quality.unified)
    return VerifyOut(decision=r.decision.outcome.value, reason=r.decision.reason.value,
                     score=r.comparison.fused,
                     threshold=r.decision.threshold, target_fmr=r.decision.target,
                     quality_live=r.a.quality.unified, quality_document=r.b.quality.unified)
