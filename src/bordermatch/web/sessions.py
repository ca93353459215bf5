"""Browser sessions for the officer review pages, kept in the database.

An officer signs in once with an API key; the browser then holds only a random session
token in an HttpOnly, SameSite=Strict cookie. The database keeps a SHA-256 of that token
(a stolen table cannot be replayed as cookies), the key's id (never the key), the CSRF
token and the times that end it: an idle timeout and an absolute lifetime. Every request
looks the key up again, so revoking it ends the session at once. Because the rows are
shared, any worker of a deployment serves any request, and a restart signs nobody out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bordermatch.store.clock import Clock, as_utc
from bordermatch.store.keys import Principal
from bordermatch.store.tables import ApiKey
from bordermatch.store.tables import WebSession as SessionRow

COOKIE = "bm_review_session"
LOGIN_CSRF_COOKIE = "bm_review_login_csrf"
# Writing seen_at on every page view would make each read a write; a minute is fine-grained
# enough for a 30-minute idle timeout.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class WebSession:
    key_id: str
    csrf: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Sessions of the review pages in the service's database (table ``web_sessions``)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock,
                 idle_s: float = 30 * 60, lifetime_s: float = 8 * 3600) -> None:
        self._sessions, self._clock = sessions, clock
        self._idle, self._lifetime = timedelta(seconds=idle_s), timedelta(seconds=lifetime_s)

    def create(self, who: Principal) -> tuple[str, WebSession]:
        """A new session for ``who``; returns the cookie's token (shown only here)."""
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self._sessions.begin() as s:
            # Expired rows go as new ones come, so the table stays as large as the signed-in.
            s.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
            s.execute(delete(SessionRow).where(SessionRow.seen_at <= now - self._idle))
            s.add(SessionRow(token_hash=token_hash(token), key_id=who.key_id, csrf=csrf,
                             created_at=now, seen_at=now, expires_at=now + self._lifetime))
        return token, WebSession(who.key_id, csrf)

    def get(self, token: str | None) -> tuple[Principal, WebSession] | None:
        """The officer and session behind a cookie, or None (unknown, expired, revoked)."""
        if not token or len(token) > 200:
            return None
        now = self._clock.now()
        with self._sessions.begin() as s:
            row = s.get(SessionRow, token_hash(token))
            if row is None:
                return None
            key = s.get(ApiKey, row.key_id)
            if (as_utc(row.expires_at) <= now or as_utc(row.seen_at) + self._idle <= now
                    or key is None or key.revoked_at is not None):
                s.delete(row)
                return None
            if now - as_utc(row.seen_at) >= TOUCH_EVERY:
                row.seen_at = now
            who = Principal(key.id, key.name, key.role, tuple(key.lanes or ()))
            return who, WebSession(row.key_id, row.csrf)

    def drop(self, token: str | None) -> None:
        if token:
            with self._sessions.begin() as s:
                s.execute(delete(SessionRow).where(SessionRow.token_hash == token_hash(token)))

    def __len__(self) -> int:
        with self._sessions() as s:
            return int(s.scalar(select(func.count()).select_from(SessionRow)) or 0)


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; a missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
