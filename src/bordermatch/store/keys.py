"""API keys: issued once, shown once, stored only as a hash.

A key reads ``bmk_<key id>_<secret>``. The key id is public (it names the key in the audit
log); the secret is 256 random bits, so a plain SHA-256 of it is enough at rest: there is
nothing to brute-force, unlike a password, and no slow hash is needed on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bordermatch.errors import InputError, UnknownRecordError
from bordermatch.store.clock import Clock
from bordermatch.store.tables import ApiKey

ROLES = ("lane_device", "gate_device", "officer", "supervisor", "auditor",
         "airline_partner", "admin")
PREFIX = "bmk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key id, the name it was issued to, and its role."""

    key_id: str
    name: str
    role: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, clock: Clock, role: str, name: str) -> tuple[Principal, str]:
    """Issue a key; returns the principal and the token (the only time it is visible)."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not name.strip():
        raise InputError("a key must name the person or device it is issued to")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKey(id=key_id, name=name.strip(), role=role, secret_hash=_digest(secret),
                       created_at=clock.now()))
    return Principal(key_id, name.strip(), role), f"{PREFIX}{key_id}_{secret}"


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal behind a token, or None when it is malformed, unknown or revoked."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX):].partition("_")
    if not sep or not key_id or not secret or len(token) > 200:
        return None
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return Principal(row.id, row.name, row.role)


def revoke(session: Session, clock: Clock, key_id: str) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise UnknownRecordError(f"no API key {key_id!r}")
    row.revoked_at = clock.now()


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))
