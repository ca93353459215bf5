"""Traveller and record ids stay out of the access log (issue 14, finding 7)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import httpx
import pytest
from tests.api.api_helpers import auth

from bordermatch.api.logs import redact


@pytest.mark.parametrize(("path", "logged"), [
    ("/v1/travelers/T-OBAMA/crossings?include_manual=true",
     "/v1/travelers/{traveler_id}/crossings?include_manual=_"),
    ("/v1/encounters/5f0c-uuid", "/v1/encounters/{encounter_id}"),
    ("/v1/audit?resource_id=T-OBAMA&limit=5", "/v1/audit?resource_id=_&limit=_"),
    ("/v1/galleries/g1/travelers", "/v1/galleries/{gallery_id}/travelers"),
    ("/review/items/abc/photos/traveler", "/review/items/{item_id}/photos/{photo_id}"),
    ("/review/static/review.css", "/review/static/{path}"),
    ("/T-OBAMA-passport-P1000001", "(unmatched)"),
    ("/v1/audit?T%2DOBAMA=1", "/v1/audit?_=_"),
])
def test_paths_are_logged_as_route_templates(app, path, logged):
    assert redact(app.routes, path) == logged


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_a_real_server_logs_no_traveller_id(app, tokens):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # uvicorn configures its loggers here (access records do not propagate to the root).
    config = uvicorn.Config(app, log_level="info", access_log=True, lifespan="on")
    server = uvicorn.Server(config)
    handler = _Lines()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        r = httpx.get(f"http://127.0.0.1:{port}/v1/travelers/T-OBAMA-P1000001/crossings",
                      headers=auth(tokens["officer"]), timeout=10)
        assert r.status_code == 404
        time.sleep(0.2)
    finally:
        server.should_exit = True
        thread.join(10)
        access.removeHandler(handler)
    lines = handler.lines
    assert any("/v1/travelers/{traveler_id}/crossings" in line for line in lines), lines
    assert not any("P1000001" in line for line in lines)
