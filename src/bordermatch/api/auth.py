"""Authentication (API keys) and role checks.

A key is sent as ``X-API-Key: bmk_...`` or ``Authorization: Bearer bmk_...``. No key, or an
unknown, malformed or revoked one, is 401; a valid key whose role is not allowed is 403.
Roles are deliberately not hierarchical: an admin manages galleries, but only an auditor
reads the audit log, and only airline partners use the boarding endpoint.

Every 401 for a presented key and every 403 is audited; refused keys count against the
client address, which is locked out (429) after too many (``store/authlimit.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bordermatch.api.deps import get_service
from bordermatch.api.problems import ApiProblem, route_of
from bordermatch.store import authlimit, keys
from bordermatch.store.keys import Principal

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="An API key from `bordermatch keys create`.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="bordermatch"'}


def authenticate(request: Request,
                 api_key: Annotated[str | None, Depends(_api_key)] = None,
                 bearer: Annotated[HTTPAuthorizationCredentials | None,
                                   Depends(_bearer)] = None) -> Principal:
    token = api_key or (bearer.credentials if bearer else None)
    if not token:
        raise ApiProblem(401, "unauthenticated", "an API key is required", _UNAUTHORIZED)
    service = get_service(request)
    now, source = service.clock.now(), client_source(request)
    with service.sessions() as s:
        until = authlimit.locked_until(s, now, source)
        # A locked-out address gets no answer about its key, right or wrong.
        who = None if until else keys.authenticate(s, token)
    if until:
        raise locked_out(until, now)
    if who is None:
        until = authlimit.record_failure(
            service.sessions, now, source, authlimit.Policy.from_settings(service.settings),
            authlimit.claimed_key_id(token), "invalid_key", route_of(request))
        if until:
            raise locked_out(until, now)
        raise ApiProblem(401, "invalid_key", "the API key is invalid or revoked", _UNAUTHORIZED)
    request.state.principal = who
    return who


def client_source(request: Request) -> str:
    """The client address the failure counters are kept for (the peer uvicorn reports; run
    it with --proxy-headers behind a trusted proxy so that this is the real client)."""
    return request.client.host if request.client else "unknown"


def locked_out(until, now) -> ApiProblem:
    wait = max(1, int((until - now).total_seconds() + 0.999))
    return ApiProblem(429, "too_many_failures",
                      "too many failed authentications from this address; retry later",
                      {"Retry-After": str(wait)})


def require(*roles: str) -> Callable[..., Principal]:
    unknown = set(roles) - set(keys.ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def check(request: Request,
              who: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if who.role not in roles:
            service = get_service(request)
            authlimit.audit_refusal(service.sessions, service.clock.now(), who,
                                    "auth.forbidden", route_of(request),
                                    client_source(request))
            raise ApiProblem(403, "forbidden",
                             f"role {who.role!r} may not do this; allowed: {', '.join(roles)}")
        return who

    return check


Admin = Annotated[Principal, Depends(require("admin", "supervisor"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]
Enroller = Annotated[Principal, Depends(require("admin", "supervisor", "officer"))]
Officer = Annotated[Principal, Depends(require("officer", "supervisor"))]
LaneDevice = Annotated[Principal, Depends(require("lane_device"))]
GateDevice = Annotated[Principal, Depends(require("gate_device"))]
BoothDevice = Annotated[Principal, Depends(require("booth_device", "kiosk_device"))]
OptOutRecorder = Annotated[Principal, Depends(require("gate_device", "lane_device", "officer"))]
Verifier = Annotated[Principal, Depends(require("gate_device", "officer"))]
Auditor = Annotated[Principal, Depends(require("auditor"))]
AirlinePartner = Annotated[Principal, Depends(require("airline_partner"))]
MobileDevice = Annotated[Principal, Depends(require("mobile_device"))]
