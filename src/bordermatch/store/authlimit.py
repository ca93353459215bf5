"""Failed authentication: counted per client address in the database, audited, locked out.

Policy (docs/service.md, "Failed authentication"): every refused credential (an unknown,
malformed or revoked API key; a bad key at the review sign-in) is an ``auth.failed`` audit
entry and counts against the client address. ``limit`` failures within ``window`` lock the
address out for ``lockout``: its requests get 429 without their key being looked at, and
only the lockout itself is audited (``auth.lockout``), so a flood cannot flood the log.
A request with no key at all is neither counted nor audited; it can learn nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bordermatch.store import audit
from bordermatch.store.keys import PREFIX, Principal
from bordermatch.store.tables import AuthFailure

_KEY_ID = re.compile(r"[0-9a-f]{1,32}")


@dataclass(frozen=True, slots=True)
class Policy:
    limit: int
    window: timedelta
    lockout: timedelta

    @classmethod
    def from_settings(cls, settings) -> Policy:
        return cls(settings.auth_failure_limit,
                   timedelta(seconds=settings.auth_failure_window_s),
                   timedelta(seconds=settings.auth_lockout_s))


def claimed_key_id(token: str) -> str | None:
    """The key id a token names, if it looks like one (it is attacker-chosen text)."""
    if not token.startswith(PREFIX):
        return None
    key_id = token[len(PREFIX):].partition("_")[0]
    return key_id if _KEY_ID.fullmatch(key_id) else None


def locked_until(session: Session, now: datetime, source: str) -> datetime | None:
    row = session.get(AuthFailure, source[:64])
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    return None


def record_failure(sessions: sessionmaker[Session], now: datetime, source: str, policy: Policy,
                   key_id: str | None, reason: str, where: str) -> datetime | None:
    """Count and audit one failure; the end of the lockout it starts, if it starts one."""
    source = source[:64]
    who = Principal(key_id or "-", "unauthenticated", "none")
    for attempt in range(2):
        try:
            with sessions.begin() as s:
                row = s.get(AuthFailure, source, with_for_update=True)
                if row is None:
                    row = AuthFailure(source=source, window_start=now, failures=0)
                    s.add(row)
                elif now - row.window_start >= policy.window:
                    row.window_start, row.failures = now, 0
                row.failures += 1
                audit.append(s, now, who, "auth.failed", "auth", key_id, reason=reason,
                             source=source, route=where)
                if row.failures < policy.limit:
                    return None
                row.locked_until = now + policy.lockout
                row.window_start, row.failures = now, 0
                audit.append(s, now, who, "auth.lockout", "auth", None, source=source,
                             until=row.locked_until.isoformat(), failures=policy.limit)
                return row.locked_until
        except IntegrityError:
            # Two first failures from one address raced to insert its row; count again.
            if attempt:
                raise
    return None


def audit_refusal(sessions: sessionmaker[Session], now: datetime, who: Principal, action: str,
                  where: str, source: str) -> None:
    """A valid key used where its role may not go (403): audited, not counted."""
    with sessions.begin() as s:
        audit.append(s, now, who, action, "auth", who.key_id, route=where, source=source[:64])
