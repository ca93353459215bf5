"""RFC 9457 problem details (``application/problem+json``) for every error the API returns.

Bad input of any kind maps to a 4xx with a stable ``code``; only a genuine server fault is a
5xx, and its body never carries internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bordermatch.errors import (
    BordermatchError,
    BusyError,
    ImageTooLargeError,
    InputError,
    LdsTooLargeError,
    ModelError,
    PermissionRefused,
    RecordStateError,
    UnknownRecordError,
    UnsupportedImageError,
)
from bordermatch.store import authlimit

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
# Most specific first: the first isinstance match decides the status.
_STATUS: tuple[tuple[type[BordermatchError], int], ...] = (
    (PermissionRefused, 403),
    (UnknownRecordError, 404),
    (RecordStateError, 409),
    (ImageTooLargeError, 413),
    (LdsTooLargeError, 413),
    (UnsupportedImageError, 415),
    (InputError, 422),
    (ModelError, 503),
    (BusyError, 503),
)
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Content too large",
           415: "Unsupported media type", 422: "Unprocessable content",
           429: "Too many requests", 500: "Internal server error", 503: "Service unavailable"}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None,
            **extra) -> JSONResponse:
    body = {"type": f"urn:bordermatch:problem:{code}", "title": _TITLES.get(status, "Error"),
            "status": status, "code": code, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_for(exc: BordermatchError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


class ApiProblem(Exception):
    """Raised by API code for HTTP-only failures (auth, content type, upload size)."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def route_of(request: Request) -> str:
    """The route template (``/v1/travelers/{traveler_id}/crossings``), never the raw path:
    raw paths carry traveller and record ids, which stay out of logs."""
    route = request.scope.get("route")
    return getattr(route, "path", "(unmatched)")


def _audit_refusal(request: Request, exc: PermissionRefused) -> None:
    """A 403 from a key's scope is audited like one from its role (api/auth.py)."""
    who = getattr(request.state, "principal", None)
    service = getattr(request.app.state, "service", None)
    if who is None or service is None:
        return
    source = request.client.host if request.client else "unknown"
    authlimit.audit_refusal(service.sessions, service.clock.now(), who, f"auth.{exc.code}",
                            route_of(request), source)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.code, exc.detail, exc.headers)

    @app.exception_handler(BordermatchError)
    async def _domain(request: Request, exc: BordermatchError) -> JSONResponse:
        status = status_for(exc)
        if isinstance(exc, PermissionRefused):
            _audit_refusal(request, exc)
        if isinstance(exc, BusyError):
            return problem(status, exc.code, str(exc),
                           {"Retry-After": str(max(1, round(exc.retry_after_s)))})
        if status >= 500:
            log.error("%s on %s %s: %s", exc.code, request.method, route_of(request), exc)
            return problem(status, exc.code, "the service cannot handle this request now")
        return problem(status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        malformed = any(e["type"] == "json_invalid" for e in errors)
        if malformed:
            return problem(400, "malformed_json", "the request body is not valid JSON",
                           errors=errors)
        if any(e["type"] == "unstorable_value" for e in errors):
            return problem(422, "unstorable_value",
                           "a value cannot be stored: NUL byte, control character, invalid "
                           "Unicode or too long", errors=errors)
        return problem(422, "validation_error", "the request does not match the schema",
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, f"http_{exc.status_code}", str(exc.detail),
                       getattr(exc, "headers", None))

    @app.exception_handler(StatementError)
    async def _db_refused(request: Request, exc: StatementError) -> JSONResponse:
        # The database refused a value the schema let through (a NUL byte or lone surrogate
        # in a string, a string longer than its column, a number out of range). That is the
        # caller's input, so 422; anything else from the database is a genuine 500.
        refused = UnicodeError | ValueError | OverflowError
        if isinstance(exc, DataError) or isinstance(exc.orig, refused):
            return problem(422, "unstorable_value",
                           "a value cannot be stored: NUL byte, invalid Unicode, too long, "
                           "or out of range")
        log.error("database error on %s %s: %s", request.method, route_of(request),
                  type(exc.orig).__name__)
        return problem(500, "internal_error", "the service failed to handle this request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, route_of(request))
        return problem(500, "internal_error", "the service failed to handle this request")
