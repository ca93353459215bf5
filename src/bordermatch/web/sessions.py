"""Browser sessions for the officer review pages.

An officer signs in once with an API key; the browser then holds only a random session id
in an HttpOnly, SameSite=Strict cookie. The key stays on the server, and every request
re-authenticates it, so revoking the key ends the session at once. Sessions live in memory:
a restart signs everyone out, which is the safe direction for a single-process service.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "bm_review_session"
LOGIN_CSRF_COOKIE = "bm_review_login_csrf"


@dataclass(slots=True)
class WebSession:
    token: str  # the API key; never sent back to the browser
    csrf: str
    created: float
    seen: float = field(default=0.0)


class SessionStore:
    """Thread-safe, bounded, with an idle timeout and an absolute lifetime."""

    def __init__(self, idle_s: float = 30 * 60, lifetime_s: float = 8 * 3600,
                 max_sessions: int = 10_000, clock=time.monotonic) -> None:
        self._idle, self._lifetime, self._max = idle_s, lifetime_s, max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._by_id: dict[str, WebSession] = {}

    def create(self, token: str) -> tuple[str, WebSession]:
        now = self._clock()
        sid = secrets.token_urlsafe(32)
        session = WebSession(token=token, csrf=secrets.token_urlsafe(32), created=now, seen=now)
        with self._lock:
            self._expire(now)
            if len(self._by_id) >= self._max:
                # Evict the least recently seen rather than refuse a sign-in.
                oldest = min(self._by_id, key=lambda k: self._by_id[k].seen)
                del self._by_id[oldest]
            self._by_id[sid] = session
        return sid, session

    def get(self, sid: str | None) -> WebSession | None:
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if now - session.seen > self._idle or now - session.created > self._lifetime:
                del self._by_id[sid]
                return None
            session.seen = now
            return session

    def drop(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_id.pop(sid, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def _expire(self, now: float) -> None:
        dead = [k for k, s in self._by_id.items()
                if now - s.seen > self._idle or now - s.created > self._lifetime]
        for k in dead:
            del self._by_id[k]


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; a missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
