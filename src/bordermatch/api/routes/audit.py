"""/v1/audit: query and verify the hash-chained audit log (auditor role only)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from bordermatch.api.auth import Auditor
from bordermatch.api.deps import Service
from bordermatch.api.schemas import AuditEntryOut, AuditVerifyOut
from bordermatch.api.strings import QueryText64, QueryText80

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditEntryOut])
def query(who: Auditor, svc: Service, action: QueryText64 = None,
          resource_id: QueryText80 = None, since: AwareDatetime | None = None,
          until: AwareDatetime | None = None, after_seq: int = Query(0, ge=0, le=2**62),
          limit: int = Query(100, ge=1, le=1000)) -> list[AuditEntryOut]:
    rows = svc.audit_entries(who, action=action, resource_id=resource_id, since=since,
                             until=until, limit=limit, after_seq=after_seq)
    return [AuditEntryOut(seq=r.seq, at=r.at, actor=r.actor, role=r.role, action=r.action,
                          resource_type=r.resource_type, resource_id=r.resource_id,
                          detail=r.detail, prev_hash=r.prev_hash, hash=r.hash) for r in rows]


@router.get("/verify", response_model=AuditVerifyOut)
def verify(who: Auditor, svc: Service) -> AuditVerifyOut:
    r = svc.audit_verify()
    return AuditVerifyOut(ok=r.ok, entries=r.entries, head_hash=r.head_hash,
                          first_bad_seq=r.first_bad_seq, problem=r.problem)
