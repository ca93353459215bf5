"""/v1/travelers/{id}/crossings: the biometrically confirmed entry and exit records."""

from __future__ import annotations

from fastapi import APIRouter

from bordermatch.api.auth import Officer
from bordermatch.api.deps import Service
from bordermatch.api.schemas import CrossingOut
from bordermatch.api.strings import PathId
from bordermatch.store import repo

router = APIRouter(prefix="/v1/travelers", tags=["travelers"])


@router.get("/{traveler_id}/crossings", response_model=list[CrossingOut])
def crossings(traveler_id: PathId(), who: Officer, svc: Service,
              include_manual: bool = False) -> list[CrossingOut]:
    """Biometric and officer-confirmed crossings; ``include_manual`` adds manual inspections."""
    with svc.sessions.begin() as s:
        rows = repo.crossings_for(s, who, svc.clock.now(), traveler_id,
                                  biometric_only=not include_manual)
    return [CrossingOut(id=c.id, traveler_id=c.traveler_id, direction=c.direction,
                        lane=c.lane, gallery_id=c.gallery_id, encounter_id=c.encounter_id,
                        method=c.method, occurred_at=c.occurred_at) for c in rows]
