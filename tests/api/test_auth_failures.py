"""Failed authentication is audited, counted per address in the database, and locked out."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from tests.api.api_helpers import auth
from tests.web.web_helpers import csrf_of, sign_in

from bordermatch.store.tables import AuditEvent

LIMIT = 5


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"auth_failure_limit": LIMIT, "auth_lockout_s": 600.0})


def _actions(app) -> list[tuple[str, str | None, dict]]:
    with app.state.service.sessions() as s:
        return [(e.action, e.resource_id, e.detail)
                for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


def test_a_bad_key_is_audited_with_the_address_and_route(client, app, tokens):
    r = client.get("/v1/galleries", headers={"X-API-Key": "bmk_0badc0de_guessed"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_key"
    [(_, key_id, detail)] = [a for a in _actions(app) if a[0] == "auth.failed"]
    assert key_id == "0badc0de"
    assert detail == {"reason": "invalid_key", "source": "testclient", "route": "/v1/galleries"}
    # No key at all is not an attempt: neither counted nor audited.
    assert client.get("/v1/galleries").status_code == 401
    assert len([a for a in _actions(app) if a[0] == "auth.failed"]) == 1


def test_a_403_is_audited(client, app, tokens):
    r = client.get("/v1/audit", headers=auth(tokens["officer"]))
    assert r.status_code == 403
    [(_, key_id, detail)] = [a for a in _actions(app) if a[0] == "auth.forbidden"]
    assert key_id == tokens["officer"].split("_")[1] and detail["route"] == "/v1/audit"


def test_too_many_bad_keys_lock_the_address_out(client, app, tokens, clock):
    for _ in range(LIMIT - 1):
        assert client.get("/v1/galleries", headers={"X-API-Key": "bmk_1_x"}).status_code == 401
    r = client.get("/v1/galleries", headers={"X-API-Key": "bmk_1_x"})
    assert r.status_code == 429 and r.json()["code"] == "too_many_failures"
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) == 600
    # While locked out, even a valid key is not looked at, and nothing more is audited.
    before = len(_actions(app))
    for _ in range(10):
        assert client.get("/v1/galleries", headers=auth(tokens["officer"])).status_code == 429
    assert len(_actions(app)) == before
    assert [a for a, _, _ in _actions(app)].count("auth.lockout") == 1
    clock.advance(minutes=10)
    assert client.get("/v1/galleries", headers=auth(tokens["officer"])).status_code == 200


def test_the_lockout_is_shared_by_every_process_on_the_database(client, app, tokens, settings,
                                                                clock, blobs, face_engine):
    from fastapi.testclient import TestClient

    from bordermatch.api.app import create_app

    for _ in range(LIMIT):
        client.get("/v1/galleries", headers={"X-API-Key": "bmk_1_x"})
    other = create_app(settings, clock=clock, engine_factory=lambda: face_engine, blobs=blobs)
    with TestClient(other) as second:  # a second, stateless API process
        assert second.get("/v1/galleries", headers=auth(tokens["officer"])).status_code == 429


def test_failed_review_sign_ins_are_audited_and_locked_out(client, app, tokens):
    for k in range(LIMIT):
        r = sign_in(client, f"bmk_abc_{k}")
        assert r.status_code == (401 if k < LIMIT - 1 else 429), r.text
    failed = [d for a, _, d in _actions(app) if a == "auth.failed"]
    assert len(failed) == LIMIT and {d["reason"] for d in failed} == {"review_sign_in"}
    assert sign_in(client, tokens["officer"]).status_code == 429  # locked: even a good key


def test_a_refused_role_at_sign_in_is_audited(client, app, tokens):
    page = client.get("/review/login")
    r = client.post("/review/login", data={"api_key": tokens["admin"],
                                           "csrf": csrf_of(page.text)})
    assert r.status_code == 403
    assert [a for a, _, _ in _actions(app)] == ["review.sign_in_refused"]
