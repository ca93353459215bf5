"""Refuse oversized request bodies before they are parsed or spooled to disk."""

from __future__ import annotations

import json

from bordermatch.api.problems import MEDIA_TYPE


class BodyLimit:
    """ASGI middleware: 413 when Content-Length, or the bytes actually sent, exceed a limit.

    A chunked body has no Content-Length, so the limit is enforced while it streams. Raising
    from ``receive`` does not work for that: the body parsers (and the metrics middleware's
    task group) turn any exception into a generic 400. Instead the app is told the client went
    away, whatever it answers is dropped, and the 413 is sent in its place.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await reject(send, 400, "bad_content_length",
                                    "Content-Length is not a number")
            if declared > self.max_bytes:
                return await reject(send, 413, "request_too_large",
                                    f"request body over {self.max_bytes} bytes")
        seen = 0
        over = False
        started = False

        async def limited_receive():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if over and not started:
                return  # the app's answer to a "disconnect"; the 413 goes out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await reject(send, 413, "request_too_large",
                         f"request body over {self.max_bytes} bytes")


async def reject(send, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
    """Answer with a problem document from ASGI middleware (before any route runs)."""
    body = json.dumps({"type": f"urn:bordermatch:problem:{code}", "title": "Request refused",
                       "status": status, "code": code, "detail": detail}).encode()
    raw = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
