"""Durable ingest (issue 13): a worker commits each published encounter exactly once, sends
poison to the dead-letter queue with its reason, and keeps the lane flowing."""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import select
from tests.api.ingest_helpers import (
    AMQP_URL,
    drop_connection,
    encounters_by_key,
    publish,
    queue_pair,
    restart_broker,
    wait_for,
)
from tests.api.test_api_flow import _enrol_manifest
from tests.api.test_api_vehicle import EVENT, _enrol, _frame

from bordermatch.ingest import broker
from bordermatch.ingest.messages import EncounterMessage, MessageError, decode
from bordermatch.ingest.worker import Worker
from bordermatch.store.tables import AuditEvent


@pytest.fixture
def topology():
    yield from queue_pair()


def _gate(gallery, photo, eid, lane="gate-7") -> bytes:
    return EncounterMessage("gate", eid, gallery, lane=lane, direction="exit",
                            photo=photo).encode()


def _run(app, topology, n):
    return Worker(app.state.service, topology).run(AMQP_URL, max_messages=n)


def test_a_published_gate_encounter_is_committed_once_even_when_sent_twice(
        app, tokens, gallery, photos, client, topology):
    _enrol_manifest(client, tokens, gallery, photos)
    msg = _gate(gallery, photos["obama2"], "gate-7/2026-12-02T08:00:00/1")
    publish(topology, msg, tokens["gate_device"])
    publish(topology, msg, tokens["gate_device"])  # a device retrying after a lost confirm
    assert _run(app, topology, 2) == 2
    assert encounters_by_key(app) == {"gate-7/2026-12-02T08:00:00/1": 1}
    with app.state.service.sessions() as s:
        from bordermatch.store.tables import Encounter, Occupant

        e = s.scalar(select(Encounter))
        occ = s.scalar(select(Occupant).where(Occupant.encounter_id == e.id))
    assert e.lane == "gate-7" and occ.traveler_id == "T-OBAMA" and occ.decision == "match"


def test_a_crash_after_commit_before_ack_is_redelivered_and_not_written_twice(
        app, tokens, gallery, photos, client, topology):
    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, _gate(gallery, photos["obama2"], "e-crash"), tokens["gate_device"])
    # A worker takes the message, commits, and dies before its ack.
    conn = broker.connect(AMQP_URL)
    ch = conn.channel()
    method, props, body = ch.basic_get(topology.queue, auto_ack=False)
    assert method is not None
    assert Worker(app.state.service, topology).handle(body, props.headers).status == "done"
    conn.close()  # no ack: the broker redelivers
    assert _run(app, topology, 1) == 1
    assert encounters_by_key(app) == {"e-crash": 1}


def test_a_connection_the_broker_drops_before_the_ack_is_reopened_and_nothing_is_doubled(
        app, tokens, gallery, photos, client, topology, monkeypatch, capfd):
    """A broker restart, or a consume that times out on a loaded node, closes the worker's
    connection under it: the worker reconnects, the event whose ack was lost comes back
    and is not written twice, and the next event flows on the new connection."""
    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, _gate(gallery, photos["obama2"], "e-drop"), tokens["gate_device"])
    publish(topology, _gate(gallery, photos["obama2"], "e-next"), tokens["gate_device"])
    handled, real = [], Worker.handle

    def then_drop(self, body, headers):
        outcome = real(self, body, headers)
        handled.append(decode(body, len(body)).encounter_id)
        if len(handled) == 1:
            drop_connection("bordermatch worker")  # committed, not yet acked
        return outcome

    monkeypatch.setattr(Worker, "handle", then_drop)
    assert _run(app, topology, 2) == 2
    assert handled == ["e-drop", "e-drop", "e-next"]
    assert encounters_by_key(app) == {"e-drop": 1, "e-next": 1}
    assert "broker connection lost" in capfd.readouterr().err


def test_the_worker_rides_out_a_broker_restart(app, tokens, gallery, photos, client,
                                              topology, capfd):
    """While the broker is down the worker retries; when it is back the worker reconnects
    and the events published since are decided, each once."""
    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, _gate(gallery, photos["obama2"], "e-before"), tokens["gate_device"])
    stop = threading.Event()
    worker = threading.Thread(target=Worker(app.state.service, topology).run,
                              args=(AMQP_URL,), kwargs={"stop": stop})
    worker.start()
    try:
        wait_for(lambda: encounters_by_key(app) == {"e-before": 1}, 60, "the first event")
        restart_broker()
        publish(topology, _gate(gallery, photos["obama2"], "e-after"), tokens["gate_device"])
        wait_for(lambda: "e-after" in encounters_by_key(app), 60, "the event after the restart")
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive()
    assert encounters_by_key(app) == {"e-before": 1, "e-after": 1}
    assert "broker connection lost" in capfd.readouterr().err


def _with_heartbeat(url: str, seconds: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}heartbeat={seconds}"


def test_an_event_longer_than_the_heartbeat_timeout_is_handled_once(
        app, tokens, gallery, photos, client, topology, monkeypatch, capfd):
    """The worker keeps its connection's heartbeats going while it works: with a 2 s
    heartbeat, an event that takes 8 s neither loses the connection nor goes to a second
    delivery (with the default 60 s heartbeat, the same holds for a batch chunk of
    minutes)."""
    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, _gate(gallery, photos["obama2"], "e-slow"), tokens["gate_device"])
    calls, real = [], Worker._dispatch

    def slow(self, who, msg):
        calls.append(msg.encounter_id)
        time.sleep(8.0)  # a task this long misses several heartbeats if nobody answers them
        return real(self, who, msg)

    monkeypatch.setattr(Worker, "_dispatch", slow)
    handled = Worker(app.state.service, topology).run(_with_heartbeat(AMQP_URL, 2),
                                                      max_messages=1)
    assert handled == 1 and calls == ["e-slow"]
    assert encounters_by_key(app) == {"e-slow": 1}
    assert "broker connection lost" not in capfd.readouterr().err


def test_poison_goes_to_the_dead_letter_queue_and_the_lane_keeps_flowing(
        app, tokens, gallery, photos, client, topology):
    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, b'{"v": 1, "kind": "gate"', tokens["gate_device"], "m-json")
    publish(topology, _gate(gallery, b"\x89PNG\r\n\x1a\nbroken", "e-bad-image"),
            tokens["gate_device"], "m-image")
    publish(topology, _gate(gallery, photos["obama2"], "e-ok"), tokens["gate_device"], "m-ok")
    assert _run(app, topology, 3) == 3
    assert encounters_by_key(app) == {"e-ok": 1}
    dead = {d["message_id"]: d for d in broker.dead_letters(AMQP_URL, topology)}
    assert dead["m-json"]["reason"] == "bad_message"
    assert dead["m-image"]["reason"] in ("corrupt_image", "truncated_image", "unsupported_image")
    assert "m-ok" not in dead


def test_a_refused_key_or_role_is_dead_lettered_and_audited(app, tokens, gallery, photos,
                                                            client, topology):
    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, _gate(gallery, photos["obama2"], "e-officer"), tokens["officer"], "m-o")
    publish(topology, _gate(gallery, photos["obama2"], "e-nokey"), None, "m-none")
    publish(topology, _gate(gallery, photos["obama2"], "e-lane", lane="gate-9"),
            tokens["gate_device"], "m-lane")
    assert _run(app, topology, 3) == 3
    assert encounters_by_key(app) == {}
    dead = {d["message_id"]: d["reason"] for d in broker.dead_letters(AMQP_URL, topology)}
    assert dead == {"m-o": "forbidden", "m-none": "unauthenticated", "m-lane": "lane_not_bound"}
    with app.state.service.sessions() as s:
        actions = set(s.scalars(select(AuditEvent.action)))
    assert {"auth.forbidden", "auth.lane_not_bound", "auth.failed"} <= actions


def test_a_transient_failure_is_retried_up_to_the_limit_then_dead_lettered(
        app, tokens, gallery, photos, client, topology, monkeypatch):
    _enrol_manifest(client, tokens, gallery, photos)
    calls = []

    def database_away(self, who, msg):
        calls.append(msg.encounter_id)
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(Worker, "_dispatch", database_away)
    publish(topology, _gate(gallery, photos["obama2"], "e-flaky"), tokens["gate_device"], "m-f")
    assert _run(app, topology, topology.max_deliveries) == topology.max_deliveries
    assert calls == ["e-flaky"] * topology.max_deliveries
    [dead] = broker.dead_letters(AMQP_URL, topology)
    assert dead["reason"] == f"failed {topology.max_deliveries} times: ConnectionError"
    assert "database unreachable" in dead["detail"]


def test_a_vehicle_event_through_the_broker_decides_like_the_http_route(
        app, tokens, gallery, photos, client, topology):
    _enrol(client, tokens, gallery, "T-OBAMA", photos["obama"])
    _enrol(client, tokens, gallery, "T-BIDEN", photos["biden"])
    frames = tuple((f"ws/{k:04d}_{k * 100}.jpg", _frame(photos, 10 * k)) for k in range(2))
    msg = EncounterMessage("vehicle", "veh-1", gallery, lane="lane-3", direction="entry",
                           event=json.dumps(EVENT), frames=frames)
    publish(topology, msg.encode(), tokens["lane_device"], "m-veh")
    assert _run(app, topology, 1) == 1
    with app.state.service.sessions() as s:
        from bordermatch.store.tables import Occupant

        matched = sorted(o.traveler_id for o in s.scalars(select(Occupant))
                         if o.decision == "match")
    assert matched == ["T-BIDEN", "T-OBAMA"]


@pytest.mark.parametrize("raw, field", [
    (b"[]", "JSON object"), (b'{"v": 2}', "message.v"),
    (b'{"v": 1, "kind": "teleport"}', "message.kind"),
    (b'{"v": 1, "kind": "gate", "encounter_id": "x", "gallery_id": "g", "lane": "l",'
     b' "photo": "not base64!"}', "message.photo"),
    (b'{"v": 1, "kind": "vehicle", "encounter_id": "x", "gallery_id": "g", "frames": []}',
     "message.frames"),
    (b'{"v": 1, "kind": "opt_out", "encounter_id": "x\\u0000", "gallery_id": "g"}',
     "message.encounter_id"),
    (b"[" * 100_000, "JSON"),
])
def test_a_malformed_message_names_what_is_wrong(raw, field):
    with pytest.raises(MessageError, match=field.replace(".", r"\.")):
        decode(raw, 1_000_000)


def test_messages_round_trip():
    msg = EncounterMessage("vehicle", "veh-9", "g", lane="l", direction="exit", event="{}",
                           frames=(("ws/0000_0.jpg", b"\xff\xd8data"),))
    assert decode(msg.encode(), 1_000_000) == msg


def test_a_worker_counts_its_messages_for_its_own_exporter(app, tokens, gallery, photos,
                                                           client, topology):
    from prometheus_client import generate_latest

    from bordermatch.ingest.exporter import WorkerMetrics

    _enrol_manifest(client, tokens, gallery, photos)
    publish(topology, _gate(gallery, photos["obama2"], "e-m1"), tokens["gate_device"])
    publish(topology, b"not json", tokens["gate_device"])
    metrics = WorkerMetrics(["gate-7"])
    assert Worker(app.state.service, topology, metrics).run(AMQP_URL, max_messages=2) == 2
    text = generate_latest(metrics.base.registry).decode()
    assert 'bordermatch_ingest_messages_total{outcome="done"} 1.0' in text
    assert 'bordermatch_ingest_messages_total{outcome="dead"} 1.0' in text
    assert "bordermatch_ingest_seconds_count 2.0" in text
    assert "bordermatch_decisions_total" not in text  # per-lane decisions stay private


def test_a_failure_of_ours_reaches_the_device_without_its_text():
    from bordermatch.ingest.worker import Outcome, _answer

    leaked = "(IntegrityError) [parameters: ('T-SECRET', 0.91)]"
    answer = json.loads(_answer(Outcome("retry", "IntegrityError", leaked, http_status=503)))
    assert answer["http_status"] == 503 and answer["code"] == "unavailable"
    assert "T-SECRET" not in json.dumps(answer)
    refused = json.loads(_answer(Outcome("dead", "corrupt_image", "photo: corrupt",
                                         http_status=422)))
    assert refused["code"] == "corrupt_image" and refused["detail"] == "photo: corrupt"


def test_an_encounter_id_may_be_as_long_as_an_idempotency_key():
    msg = EncounterMessage("opt_out", "k" * 200, "g", lane="l", traveler_id="T")
    assert decode(msg.encode(), 1_000_000).encounter_id == "k" * 200
    with pytest.raises(MessageError, match="encounter_id"):
        decode(EncounterMessage("opt_out", "k" * 201, "g", lane="l",
                                traveler_id="T").encode(), 1_000_000)


def test_an_oversized_photo_gets_the_routes_code(app, tokens, gallery, topology, client):
    huge = b"\xff\xd8" + b"\0" * (app.state.service.settings.max_upload_bytes + 1)
    publish(topology, _gate(gallery, huge, "e-huge"), tokens["gate_device"], "m-huge")
    assert _run(app, topology, 1) == 1
    [dead] = broker.dead_letters(AMQP_URL, topology)
    assert dead["reason"] == "image_too_large"  # 413 at the HTTP route, the same here


def test_an_event_folder_becomes_the_message_a_lane_device_publishes(tmp_path):
    from bordermatch.ingest.messages import vehicle_message
    from bordermatch.lane.events import frame_path, write_event

    folder = tmp_path / "veh-7"
    write_event(folder, "veh-7", [("ws", "windshield")], lane="lane-3", direction="exit")
    for seq, t in ((0, 0), (1, 120)):
        frame_path(folder, "ws", seq, t).parent.mkdir(parents=True, exist_ok=True)
        frame_path(folder, "ws", seq, t).write_bytes(b"\xff\xd8frame%d" % seq)
    msg = vehicle_message(folder, "g-1")
    assert (msg.kind, msg.encounter_id, msg.gallery_id, msg.lane, msg.direction) == \
        ("vehicle", "veh-7", "g-1", "lane-3", "exit")
    # Frame names as the HTTP route takes them: <camera>/<seq:04d>_<t_ms>.jpg.
    assert [n for n, _ in msg.frames] == ["ws/0000_0.jpg", "ws/0001_120.jpg"]
    assert json.loads(msg.event)["event_id"] == "veh-7"
    assert decode(msg.encode(), 1_000_000) == msg
