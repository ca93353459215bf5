"""/v1/travelers/{id}: a supervisor's correction of a traveller's details, and the
biometrically confirmed entry and exit records."""

from __future__ import annotations

from fastapi import APIRouter

from bordermatch.api.auth import Officer, Supervisor
from bordermatch.api.deps import Service
from bordermatch.api.schemas import CrossingOut, TravelerOut, TravelerUpdate
from bordermatch.api.strings import PathId64

router = APIRouter(prefix="/v1/travelers", tags=["travelers"])


@router.get("/{traveler_id}/crossings", response_model=list[CrossingOut])
def crossings(traveler_id: PathId64, who: Officer, svc: Service,
              include_manual: bool = False) -> list[CrossingOut]:
    """Biometric and officer-confirmed crossings; ``include_manual`` adds manual inspections."""
    rows = svc.crossings(who, traveler_id, biometric_only=not include_manual)
    return [CrossingOut(id=c.id, traveler_id=c.traveler_id, direction=c.direction,
                        lane=c.lane, gallery_id=c.gallery_id, encounter_id=c.encounter_id,
                        method=c.method, occurred_at=c.occurred_at) for c in rows]


@router.patch("/{traveler_id}", response_model=TravelerOut)
def update_traveler(traveler_id: PathId64, body: TravelerUpdate, who: Supervisor,
                    svc: Service) -> TravelerOut:
    """Names and citizenship change only here (re-enrolment with other details is a 409)."""
    changes = body.model_dump(exclude_none=True, exclude={"reason"})
    t = svc.update_traveler(who, traveler_id, changes, body.reason)
    return TravelerOut(traveler_id=t.id, given_names=t.given_names, surname=t.surname,
                       citizen=t.citizen, opted_out=t.opted_out)
