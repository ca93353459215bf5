"""Request-scoped dependencies: the service object, form checks, bounded upload reading."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import Depends, Header, Request, UploadFile

from bordermatch.api import strings
from bordermatch.api.forms import check_form
from bordermatch.api.jsonguard import JsonLimitError, check_json_limits
from bordermatch.api.problems import ApiProblem
from bordermatch.errors import EventError, ImageTooLargeError
from bordermatch.io.images import decode_slot, inspect_image
from bordermatch.service import BorderService
from bordermatch.store.config import ServiceSettings


def get_service(request: Request) -> BorderService:
    return request.app.state.service


Service = Annotated[BorderService, Depends(get_service)]


def _multipart(request: Request, repeatable: tuple[str, ...]) -> None:
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise ApiProblem(415, "unsupported_media_type",
                         f"this endpoint takes multipart/form-data, not {ctype or 'nothing'!r}")
    check_form(request.scope, repeatable)


def require_multipart(request: Request) -> None:
    _multipart(request, ())


def require_frames(request: Request) -> None:
    _multipart(request, ("frames",))


def require_manifest(request: Request) -> None:
    _multipart(request, ("photos",))


def require_fingers(request: Request) -> None:
    _multipart(request, ("fingers",))


def require_form(request: Request) -> None:
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise ApiProblem(415, "unsupported_media_type",
                         f"this endpoint takes a form, not {ctype or 'nothing'!r}")
    check_form(request.scope, ())


# Declare these after the caller's role parameter: dependencies resolve in signature order,
# so a caller without a valid key gets 401/403 before any content check. Every part of these
# forms is single-valued except the ones named (two `photo` parts are a 422, not "last wins").
MultipartOnly = Annotated[None, Depends(require_multipart)]
FramesMultipart = Annotated[None, Depends(require_frames)]
ManifestMultipart = Annotated[None, Depends(require_manifest)]
FingersMultipart = Annotated[None, Depends(require_fingers)]
FormOnly = Annotated[None, Depends(require_form)]

_IDEMPOTENCY = "an Idempotency-Key is 1-200 visible ASCII characters"


def _idempotency_key(idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=200)] = None) -> str | None:
    if idempotency_key is not None and not (
            idempotency_key.isascii() and idempotency_key.isprintable()
            and " " not in idempotency_key and idempotency_key):
        raise ApiProblem(422, "unstorable_value", _IDEMPOTENCY)
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(_idempotency_key)]


def read_upload(upload: UploadFile, limit: int, what: str) -> bytes:
    """The whole upload, refusing more than ``limit`` bytes without reading past it."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"{what}: more than {limit} bytes")
    return data


def read_image(upload: UploadFile, settings: ServiceSettings, max_pixels: int,
               what: str) -> bytes:
    """An image upload within the route's byte and pixel budget, its header checked for a
    size its data cannot hold, all before any decode work."""
    return check_image(read_upload(upload, settings.max_upload_bytes, what), settings,
                       max_pixels, what)


def check_image(data: bytes, settings: ServiceSettings, max_pixels: int, what: str) -> bytes:
    """The budget checks of :func:`read_image` on bytes already in hand (a broker message's
    photo or frames get exactly the HTTP route's checks and error codes)."""
    if len(data) > settings.max_upload_bytes:
        raise ImageTooLargeError(f"{what}: more than {settings.max_upload_bytes} bytes")
    inspect_image(data, min(max_pixels, settings.limits.max_image_pixels),
                  settings.limits.max_image_bytes, what)
    return data


def image_work(settings: ServiceSettings):
    """A process-wide decode slot held across a request's image work: the decoded pixels
    live until the request ends, so this, not the decode call alone, bounds memory.
    Exhausted: DecodeBusyError, answered 503 with Retry-After (``problems.py``)."""
    return decode_slot(settings.limits)


# Fields of event.json that end up in database columns, with the column widths.
_EVENT_STRINGS = {"event_id": 200, "lane": 64, "direction": 8}


def check_event(event: str, settings: ServiceSettings) -> None:
    """The vehicle ``event`` field, checked before the service parses it: depth and size by
    a scanner that never recurses, then the stored fields for storability."""
    try:
        check_json_limits(event, settings.max_json_depth, settings.max_event_bytes)
        meta = json.loads(event)
    except JsonLimitError as exc:
        raise EventError(f"event: {exc}") from None
    except (ValueError, RecursionError):
        raise EventError("event is not valid JSON") from None
    if not isinstance(meta, dict):
        raise EventError("event must be a JSON object")
    for key, width in _EVENT_STRINGS.items():
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            raise EventError(f"event.{key} must be a string")
        if isinstance(value, str):
            strings.check(value, width, f"event.{key}")


def request_hash(*parts: bytes | str | None) -> str:
    """Fingerprint of a submission, to tell a retry from a reused Idempotency-Key."""
    h = hashlib.sha256()
    for p in parts:
        b = b"" if p is None else p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return h.hexdigest()
