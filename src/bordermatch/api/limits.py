"""Refuse oversized request bodies before they are parsed or spooled to disk."""

from __future__ import annotations

from starlette.exceptions import HTTPException

from bordermatch.api.problems import MEDIA_TYPE


class _TooLarge(HTTPException):
    """An HTTPException, so body parsers re-raise it and the problem handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class BodyLimit:
    """ASGI middleware: 413 when Content-Length, or the bytes actually sent, exceed a limit."""

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
                return await _reject(send, 400, "bad_content_length",
                                     "Content-Length is not a number")
            if declared > self.max_bytes:
                return await _reject(send, 413, "request_too_large",
                                     f"request body over {self.max_bytes} bytes")
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reject(send, 413, "request_too_large",
                              f"request body over {self.max_bytes} bytes")


async def _reject(send, status: int, code: str, detail: str) -> None:
    import json

    body = json.dumps({"type": f"urn:bordermatch:problem:{code}", "title": "Request refused",
                       "status": status, "code": code, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
