"""Broker mode (issue 13): the HTTP device routes publish through the same path as a device
on the broker, and answer with what the worker decided."""

from __future__ import annotations

import threading

import pytest
from tests.api.api_helpers import auth
from tests.api.ingest_helpers import AMQP_URL, encounters_by_key, queue_pair
from tests.api.test_api_flow import _enrol_manifest, _gate

from bordermatch.ingest.worker import Worker


@pytest.fixture
def topology():
    yield from queue_pair()


@pytest.fixture
def settings(settings, topology):
    return settings.model_copy(update={"ingest": "broker", "broker_url": AMQP_URL,
                                       "ingest_queue": topology.queue,
                                       "ingest_max_deliveries": topology.max_deliveries,
                                       "ingest_reply_timeout_s": 30.0})


@pytest.fixture
def worker(app, topology):
    stop = threading.Event()
    t = threading.Thread(target=Worker(app.state.service, topology).run, args=(AMQP_URL,),
                         kwargs={"stop": stop}, daemon=True)
    t.start()
    yield
    stop.set()
    t.join(30)


def test_a_gate_post_is_decided_by_the_worker_and_answered_like_inline(
        client, tokens, gallery, photos, app, worker):
    _enrol_manifest(client, tokens, gallery, photos)
    r = _gate(client, tokens, gallery, photos["obama2"], key="gate-7/0001")
    assert r.status_code == 201, r.text
    [occ] = r.json()["occupants"]
    assert occ["decision"] == "match" and occ["traveler_id"] is None  # devices: no identity
    again = _gate(client, tokens, gallery, photos["obama2"], key="gate-7/0001")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert encounters_by_key(app) == {"gate-7/0001": 1}


def test_the_workers_refusal_is_the_routes_problem(client, tokens, gallery, photos, app,
                                                   worker, clock):
    from datetime import timedelta

    other = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "gate 1 only", "kind": "flight", "lanes": ["gate-1"],
        "valid_from": (clock.now() - timedelta(hours=1)).isoformat(),
        "valid_until": (clock.now() + timedelta(days=1)).isoformat()}).json()["id"]
    r = _gate(client, tokens, other, photos["obama2"])
    assert r.status_code == 403 and r.json()["code"] == "lane_not_serving_gallery", r.text
    assert encounters_by_key(app) == {}


def test_boarding_through_the_broker_reveals_only_match_and_token(client, tokens, gallery,
                                                                  photos, worker):
    _enrol_manifest(client, tokens, gallery, photos)
    r = client.post(f"/v1/gate/{gallery}/board", headers=auth(tokens["airline_partner"]),
                    data={"gate": "B12"},
                    files={"photo": ("p.jpg", photos["obama2"], "image/jpeg")})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"match", "boarding_token"} and r.json()["match"] is True


def test_with_no_worker_the_route_answers_202_and_the_event_waits_in_the_queue(
        client, tokens, gallery, photos, app, topology, settings):
    _enrol_manifest(client, tokens, gallery, photos)
    app.state.service.settings = settings.model_copy(update={"ingest_reply_timeout_s": 0.5})
    r = _gate(client, tokens, gallery, photos["obama2"], key="late-1")
    assert r.status_code == 202 and r.json() == {"status": "queued", "encounter_id": "late-1"}
    assert Worker(app.state.service, topology).run(AMQP_URL, max_messages=1) == 1
    assert encounters_by_key(app) == {"late-1": 1}


def test_an_unreachable_broker_is_503_with_retry_after(client, tokens, gallery, photos, app,
                                                       settings):
    _enrol_manifest(client, tokens, gallery, photos)
    app.state.service.settings = settings.model_copy(
        update={"broker_url": "amqp://guest:guest@127.0.0.1:1/%2F"})
    r = _gate(client, tokens, gallery, photos["obama2"])
    assert r.status_code == 503 and r.json()["code"] == "busy" and "retry-after" in r.headers
