"""Depth and size caps for every JSON document the API accepts, checked before parsing.

``json.loads`` recurses once per nesting level, so 50,000 brackets raise RecursionError (a
500) or burn a thread's stack. The scanner here walks the text once, iteratively, looking
only at quotes, backslashes and brackets; it never builds anything, and it stops at the first
level past the cap. It is a guard, not a parser: the caller still parses what passes.
"""

from __future__ import annotations

import re

from bordermatch.api.limits import reject

# UTF-8 continuation bytes are all >= 0x80, so these ASCII bytes are never part of a
# multi-byte character and the scan is safe on raw bytes.
_TOKENS = re.compile(rb'["\\\[\]{}]')


class JsonLimitError(ValueError):
    """The document is nested deeper, or is longer, than allowed."""


def check_json_limits(doc: bytes | str, max_depth: int, max_bytes: int) -> None:
    data = doc.encode("utf-8", "surrogatepass") if isinstance(doc, str) else doc
    if len(data) > max_bytes:
        raise JsonLimitError(f"JSON of {len(data)} bytes is over the {max_bytes}-byte limit")
    depth = 0
    in_string = False
    skip = -1  # index of a character escaped by a backslash inside a string
    for m in _TOKENS.finditer(data):
        i = m.start()
        if i == skip:
            continue
        tok = data[i:i + 1]
        if in_string:
            if tok == b"\\":
                skip = i + 1
            elif tok == b'"':
                in_string = False
        elif tok == b'"':
            in_string = True
        elif tok in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise JsonLimitError(f"JSON nested deeper than {max_depth} levels")
        elif tok in (b"]", b"}"):
            depth -= 1


def _is_json(headers: dict[bytes, bytes]) -> bool:
    ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if not ctype:
        return True  # FastAPI may parse an untyped body as JSON; guard it the same way
    return ctype == b"application/json" or (ctype.startswith(b"application/")
                                            and ctype.endswith(b"+json"))


class JsonBodyGuard:
    """ASGI middleware: a JSON request body over the size or depth cap never reaches a parser.

    JSON bodies of this API are small flat objects, so the body is read whole (up to
    ``max_bytes``; 413 beyond), checked, and handed on unchanged. Invalid UTF-8 is malformed
    JSON (400), as RFC 8259 requires UTF-8. This runs before authentication, as body parsing
    does: a bad document gets its 4xx whoever sends it.
    """

    def __init__(self, app, max_depth: int, max_bytes: int) -> None:
        self.app, self.max_depth, self.max_bytes = app, max_depth, max_bytes

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS") \
                or not _is_json(headers):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await reject(send, 413, "request_too_large",
                                    f"JSON body over {self.max_bytes} bytes")
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return await reject(send, 400, "malformed_json", "the request body is not UTF-8")
        try:
            check_json_limits(body, self.max_depth, self.max_bytes)
        except JsonLimitError as exc:
            return await reject(send, 422, "bad_json", str(exc))
        await self.app(scope, _replay([{"type": "http.request", "body": body,
                                        "more_body": False}], receive), send)


def _replay(messages: list[dict], then=None):
    async def receive():
        if messages:
            return messages.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}
    return receive
