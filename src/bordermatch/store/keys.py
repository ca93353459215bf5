"""API keys: issued once, shown once, stored only as a hash.

A key reads ``bmk_<key id>_<secret>``. The key id is public (it names the key in the audit
log); the secret is 256 random bits, so a plain SHA-256 of it is enough at rest: there is
nothing to brute-force, unlike a password, and no slow hash is needed on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bordermatch.errors import InputError, PermissionRefused, UnknownRecordError
from bordermatch.store.clock import Clock
from bordermatch.store.tables import ApiKey

ROLES = ("lane_device", "gate_device", "booth_device", "kiosk_device", "mobile_device",
         "officer", "supervisor", "auditor", "airline_partner", "admin")
PREFIX = "bmk_"
# Keys that sit in one place (a lane camera, a gate, a booth or kiosk, an airline's boarding
# desk) speak only for the lanes they were issued for: a stolen gate key cannot post another
# gate's captures. A handheld fingerprint reader (mobile_device) is issued to one post, named
# as its lane.
BOUND_ROLES = ("lane_device", "gate_device", "booth_device", "kiosk_device", "mobile_device",
               "airline_partner")
MAX_LANES = 64


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key id, the name it was issued to, its role and, for the roles in
    ``BOUND_ROLES``, the lanes it may submit for."""

    key_id: str
    name: str
    role: str
    lanes: tuple[str, ...] = ()

    def check_lane(self, lane: str) -> None:
        """Refuse a submission for a lane this key was not issued for."""
        if self.role in BOUND_ROLES and lane not in self.lanes:
            raise PermissionRefused(f"this key is not bound to lane {lane!r}", "lane_not_bound")

    def check_served(self, gallery_id: str, served_by: Sequence[str], lane: str) -> None:
        """Refuse a device or partner submission to a gallery its lane does not serve: a gate
        key may speak for its own gate, but only into the galleries (flights, crossings) that
        an administrator assigned to that gate."""
        if self.role in BOUND_ROLES and lane not in served_by:
            raise PermissionRefused(f"lane {lane!r} does not serve gallery {gallery_id}",
                                    "lane_not_serving_gallery")


def normalise_lanes(lanes: Sequence[str]) -> tuple[str, ...]:
    """Lane names as keys and galleries store them: stripped, unique, bounded."""
    bound = tuple(dict.fromkeys(lane.strip() for lane in lanes))
    if len(bound) > MAX_LANES or any(not x or len(x) > 64 or not x.isprintable()
                                     for x in bound):
        raise InputError(f"lanes must be 1-64 printable characters, at most {MAX_LANES}")
    return bound


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, clock: Clock, role: str, name: str,
               lanes: Sequence[str] = ()) -> tuple[Principal, str]:
    """Issue a key; returns the principal and the token (the only time it is visible)."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if not name.strip():
        raise InputError("a key must name the person or device it is issued to")
    bound = normalise_lanes(lanes)
    if role in BOUND_ROLES and not bound:
        raise InputError(f"a {role} key must name the lanes it serves (--lane)")
    if role not in BOUND_ROLES and bound:
        raise InputError(f"a {role} key is not bound to lanes; give --lane only to "
                         f"{', '.join(BOUND_ROLES)}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    session.add(ApiKey(id=key_id, name=name.strip(), role=role, secret_hash=_digest(secret),
                       lanes=list(bound), created_at=clock.now()))
    return Principal(key_id, name.strip(), role, bound), f"{PREFIX}{key_id}_{secret}"


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
    return Principal(row.id, row.name, row.role, tuple(row.lanes or ()))


def revoke(session: Session, clock: Clock, key_id: str) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise UnknownRecordError(f"no API key {key_id!r}")
    row.revoked_at = clock.now()


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))
