"""Request-scoped dependencies: the service object, and bounded upload reading."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Request, UploadFile

from bordermatch.api.problems import ApiProblem
from bordermatch.errors import ImageTooLargeError
from bordermatch.service import BorderService


def get_service(request: Request) -> BorderService:
    return request.app.state.service


Service = Annotated[BorderService, Depends(get_service)]


def require_multipart(request: Request) -> None:
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise ApiProblem(415, "unsupported_media_type",
                         f"this endpoint takes multipart/form-data, not {ctype or 'nothing'!r}")


def require_form(request: Request) -> None:
    ctype = request.headers.get("content-type", "").lower()
    if not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise ApiProblem(415, "unsupported_media_type",
                         f"this endpoint takes a form, not {ctype or 'nothing'!r}")


# Declare these after the caller's role parameter: dependencies resolve in signature order,
# so a caller without a valid key gets 401/403 before any content check.
MultipartOnly = Annotated[None, Depends(require_multipart)]
FormOnly = Annotated[None, Depends(require_form)]


def read_upload(upload: UploadFile, limit: int, what: str) -> bytes:
    """The whole upload, refusing more than ``limit`` bytes without reading past it."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLargeError(f"{what}: more than {limit} bytes")
    return data


def request_hash(*parts: bytes | str | None) -> str:
    """Fingerprint of a submission, to tell a retry from a reused Idempotency-Key."""
    h = hashlib.sha256()
    for p in parts:
        b = b"" if p is None else p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return h.hexdigest()
