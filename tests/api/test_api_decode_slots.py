"""A process at its image-slot limit answers 503; a chunked body over the limit is 413 (issue 14,
findings 4 and 7). Own module: both need tighter settings than the other API tests."""

from __future__ import annotations

import threading

import pytest
from tests.api.api_helpers import auth
from tests.api.test_api_limits import _gate, _png, _problem


@pytest.fixture
def settings(settings):
    from bordermatch.config import ImageLimits

    return settings.model_copy(update={
        "limits": ImageLimits(max_concurrent_decodes=1, decode_wait_s=0.05),
        "max_request_bytes": 1_000_000})


def test_no_free_decode_slot_is_503_with_retry_after(client, tokens, gallery):
    from bordermatch.io.images import decode_slot

    held, release = threading.Event(), threading.Event()
    limits = client.app.state.service.settings.limits

    def busy_request():
        with decode_slot(limits):
            held.set()
            release.wait(10)

    t = threading.Thread(target=busy_request)
    t.start()
    try:
        assert held.wait(5)
        r = _gate(client, tokens, gallery, _png(64, 64))
        _problem(r, 503, "decode_busy")
        assert int(r.headers["retry-after"]) >= 1
    finally:
        release.set()
        t.join()
    assert _gate(client, tokens, gallery, _png(64, 64)).status_code == 201


def test_a_chunked_body_over_the_limit_is_413(client, tokens, gallery):
    def chunks():
        for _ in range(70):
            yield b"x" * 16384

    r = client.post("/v1/encounters/gate", headers=auth(tokens["gate_device"]) | {
        "content-type": "multipart/form-data; boundary=b"}, content=chunks())
    assert "content-length" not in r.request.headers
    _problem(r, 413, "request_too_large")


