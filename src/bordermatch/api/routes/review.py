"""/v1/review: the officer queue, and adjudication by a named officer with a reason.

The officer's name comes from the authenticated key, never from the request body, so a
decision cannot be attributed to someone else.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from bordermatch.api.auth import Officer
from bordermatch.api.deps import Service
from bordermatch.api.schemas import AdjudicationIn, ReviewItemOut
from bordermatch.api.strings import PathId64

router = APIRouter(prefix="/v1/review", tags=["review"])


def _out(r) -> ReviewItemOut:
    return ReviewItemOut(id=r.id, kind=r.kind, status=r.status, gallery_id=r.gallery_id,
                         encounter_id=r.encounter_id, traveler_id=r.traveler_id,
                         other_traveler_id=r.other_traveler_id, score=r.score,
                         created_at=r.created_at, decided_by=r.decided_by,
                         decided_at=r.decided_at, reason=r.reason)


@router.get("", response_model=list[ReviewItemOut])
def queue(who: Officer, svc: Service,
          status: Literal["open", "accepted", "rejected"] = "open",
          kind: Literal["alias", "encounter", "manual_inspection",
                        "unmatched_document", "fingerprint_hit"] | None = None,
          limit: int = Query(100, ge=1, le=1000)) -> list[ReviewItemOut]:
    return [_out(r) for r in svc.review_queue(who, status, kind, limit)]


@router.post("/{item_id}/decision", response_model=ReviewItemOut)
def adjudicate(item_id: PathId64, body: AdjudicationIn, who: Officer,
               svc: Service) -> ReviewItemOut:
    return _out(svc.adjudicate(who, item_id, body.decision == "accept", body.reason))
