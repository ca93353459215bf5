"""Append-only, hash-chained audit log of every read or write of biometric data or PII.

Each entry's hash is ``sha256(prev_hash + canonical JSON of (seq, at, actor, role, action,
resource, detail))``; the first entry chains from 64 zeros. Editing, deleting or reordering
any entry breaks every later link, which :func:`verify_chain` reports. Entries are appended
in the same transaction as the change they describe, so a change is never committed without
its entry. Appends are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction
advisory lock) so that two writers never chain from the same head.

Truncating the newest entries leaves a valid shorter chain; anchor the head hash elsewhere
(``bordermatch audit verify`` prints it) to detect that too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bordermatch.store.keys import Principal
from bordermatch.store.tables import AuditEvent

GENESIS = "0" * 64
# Any constant works; it only has to be the same for every writer of this database.
_ADVISORY_LOCK = 0x626D617564  # "bmaud"


def _canonical(seq: int, at: datetime, actor: str, role: str, action: str,
               resource_type: str, resource_id: str | None, detail: Mapping[str, Any]) -> bytes:
    body = {"seq": seq, "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor, "role": role, "action": action, "resource_type": resource_type,
            "resource_id": resource_id, "detail": detail}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(prev_hash: str, row: AuditEvent) -> str:
    payload = _canonical(row.seq, row.at, row.actor, row.role, row.action, row.resource_type,
                         row.resource_id, row.detail)
    return hashlib.sha256(prev_hash.encode() + payload).hexdigest()


def append(session: Session, at: datetime, who: Principal, action: str, resource_type: str,
           resource_id: str | None = None, **detail: Any) -> AuditEvent:
    """Add one entry to the chain inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    row = AuditEvent(seq=seq, at=at, actor=f"{who.name} ({who.key_id})", role=who.role,
                     action=action, resource_type=resource_type, resource_id=resource_id,
                     detail=json.loads(json.dumps(detail, default=str)), prev_hash=prev)
    row.hash = entry_hash(prev, row)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every link; report the first entry that does not chain."""
    prev, expected_seq, count, last_seq = GENESIS, 1, 0, 0
    while True:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > last_seq)
                                    .order_by(AuditEvent.seq).limit(batch)))
        if not rows:
            return ChainReport(True, count, prev)
        for row in rows:
            problem = None
            if row.seq != expected_seq:
                problem = f"entry {expected_seq} is missing (next is {row.seq})"
            elif row.prev_hash != prev:
                problem = "prev_hash does not match the previous entry"
            elif row.hash != entry_hash(prev, row):
                problem = "entry content does not match its hash"
            if problem:
                return ChainReport(False, count, prev, first_bad_seq=row.seq, problem=problem)
            prev, expected_seq, count, last_seq = row.hash, row.seq + 1, count + 1, row.seq


def query(session: Session, *, action: str | None = None, resource_id: str | None = None,
          since: datetime | None = None, until: datetime | None = None, limit: int = 100,
          after_seq: int = 0) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if resource_id:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    return list(session.scalars(stmt.order_by(AuditEvent.seq).limit(limit)))
