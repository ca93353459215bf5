"""What the form parser hides: repeated parts and text that is not UTF-8.

Starlette keeps the last of two ``photo`` parts and decodes a text field that is not UTF-8
as Latin-1, so neither can be seen once the form is parsed. ``FormInspector`` runs
python-multipart's streaming parser over the same bytes as they arrive (nothing is buffered
but text fields, which the form parser buffers too) and leaves a ``FormReport`` in the ASGI
scope; ``check_form`` turns it into a 422 after authentication.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from python_multipart.multipart import MultipartParser, QuerystringParser, parse_options_header

from bordermatch.api.problems import ApiProblem

SCOPE_KEY = "bordermatch.form"
_MAX_TEXT = 1024 * 1024  # Starlette refuses a text part above this itself


@dataclass
class FormReport:
    names: Counter = field(default_factory=Counter)
    not_utf8: set[str] = field(default_factory=set)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Multipart:
    def __init__(self, boundary: bytes, report: FormReport) -> None:
        self.report = report
        self.header_name = self.header_value = b""
        self.disposition = b""
        self.text: bytearray | None = None
        self.name = ""
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_part_data": self._data, "on_part_end": self._end,
            "on_header_field": self._hfield, "on_header_value": self._hvalue,
            "on_header_end": self._hend, "on_headers_finished": self._headers_done})

    def _begin(self) -> None:
        self.disposition, self.text = b"", None

    def _hfield(self, data, start, end) -> None:
        self.header_name += data[start:end]

    def _hvalue(self, data, start, end) -> None:
        self.header_value += data[start:end]

    def _hend(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self.disposition)
        raw_name = options.get(b"name", b"")
        self.name = raw_name.decode("utf-8", "replace")
        self.report.names[self.name] += 1
        if not _utf8(raw_name) or not _utf8(options.get(b"filename", b"")):
            self.report.not_utf8.add(self.name)
        self.text = None if b"filename" in options else bytearray()

    def _data(self, data, start, end) -> None:
        if self.text is not None and len(self.text) <= _MAX_TEXT:
            self.text += data[start:end]

    def _end(self) -> None:
        if self.text is not None and not _utf8(bytes(self.text)):
            self.report.not_utf8.add(self.name)


class _Urlencoded:
    def __init__(self, report: FormReport) -> None:
        self.report = report
        self.name, self.value = bytearray(), bytearray()
        self.parser = QuerystringParser({
            "on_field_start": self._start, "on_field_name": self._name,
            "on_field_data": self._data, "on_field_end": self._end})

    def _start(self) -> None:
        self.name, self.value = bytearray(), bytearray()

    def _name(self, data, start, end) -> None:
        self.name += data[start:end]

    def _data(self, data, start, end) -> None:
        if len(self.value) <= _MAX_TEXT:
            self.value += data[start:end]

    def _end(self) -> None:
        name = unquote_to_bytes(bytes(self.name).replace(b"+", b" "))
        value = unquote_to_bytes(bytes(self.value).replace(b"+", b" "))
        key = name.decode("utf-8", "replace")
        self.report.names[key] += 1
        if not _utf8(name) or not _utf8(value):
            self.report.not_utf8.add(key)


class FormInspector:
    """ASGI middleware: inspect multipart and urlencoded bodies as they stream past."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ctype, options = parse_options_header(dict(scope.get("headers") or [])
                                              .get(b"content-type", b""))
        report = FormReport()
        inspector: _Multipart | _Urlencoded
        if ctype == b"multipart/form-data" and options.get(b"boundary"):
            inspector = _Multipart(options[b"boundary"], report)
        elif ctype == b"application/x-www-form-urlencoded":
            inspector = _Urlencoded(report)
        else:
            return await self.app(scope, receive, send)
        scope[SCOPE_KEY] = report
        broken = False

        async def inspecting_receive():
            nonlocal broken
            message = await receive()
            if message["type"] == "http.request" and not broken:
                try:
                    inspector.parser.write(message.get("body", b""))
                    if not message.get("more_body", False):
                        inspector.parser.finalize()
                except Exception:
                    broken = True  # malformed: the form parser refuses it with its own 400
            return message

        await self.app(scope, inspecting_receive, send)


def check_form(scope, repeatable: tuple[str, ...] = ()) -> None:
    report: FormReport | None = scope.get(SCOPE_KEY)
    if report is None:
        return
    repeated = sorted(n for n, k in report.names.items() if k > 1 and n not in repeatable)
    if repeated:
        raise ApiProblem(422, "repeated_part",
                         f"form field(s) {', '.join(repeated)} may appear only once")
    if report.not_utf8:
        raise ApiProblem(422, "unstorable_value",
                         f"form field(s) {', '.join(sorted(report.not_utf8))} are not UTF-8")
