"""Issue 13: workers in separate processes share PostgreSQL and the broker; ``kill -9`` of one
in the middle of an event loses nothing and writes nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.api.api_helpers import auth
from tests.api.ingest_helpers import (
    AMQP_URL,
    encounters_by_key,
    in_flight,
    publish,
    queue_pair,
    wait_for,
)
from tests.api.test_api_flow import _enrol_manifest

from bordermatch.ingest.messages import EncounterMessage

MESSAGES = 10


@pytest.fixture
def topology():
    yield from queue_pair()


FINISHED = ("done", "dead")  # the worker's log words that end a message


def _worker(log: Path, settings, blob_keys: str, topology) -> subprocess.Popen:
    env = os.environ | {
        "BORDERMATCH_DATABASE_URL": settings.database_url,
        "BORDERMATCH_BLOB_DIR": str(settings.blob_dir),
        "BORDERMATCH_BLOB_KEYS": blob_keys,
        "BORDERMATCH_MATCHER": "sface",
        "BORDERMATCH_BROKER_URL": AMQP_URL,
        "BORDERMATCH_INGEST_QUEUE": topology.queue,
        "BORDERMATCH_INGEST_MAX_DELIVERIES": str(topology.max_deliveries),
        "BORDERMATCH_RUN_MIGRATIONS": "false",
    }
    return subprocess.Popen([sys.executable, "-m", "bordermatch", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
@pytest.mark.parametrize("attempt", range(3))
def test_kill_9_mid_event_loses_nothing_and_duplicates_nothing(
        attempt, app, client, tokens, photos, settings, blob_keys, topology, tmp_path):
    now = datetime.now(UTC)  # the workers run on the real clock
    g = client.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "kill -9", "kind": "flight", "lanes": ["gate-7"],
        "valid_from": (now - timedelta(days=400)).isoformat(),
        "valid_until": (now + timedelta(days=400)).isoformat()}).json()["id"]
    _enrol_manifest(client, tokens, g, photos)
    for i in range(MESSAGES):
        photo = photos["obama2" if i % 2 else "biden2"]
        publish(topology, EncounterMessage("gate", f"e-{i}", g, lane="gate-7", direction="exit",
                                           photo=photo).encode(), tokens["gate_device"], f"m-{i}")
    logs = [tmp_path / f"worker{k}.log" for k in range(2)]
    victim = _worker(logs[0], settings, blob_keys, topology)
    try:
        # Let the victim take a message, then start the survivor and kill the victim mid-event.
        wait_for(lambda: in_flight(logs[0], FINISHED), 120, "the first worker to start an event")
        survivor = _worker(logs[1], settings, blob_keys, topology)
        killed = wait_for(lambda: in_flight(logs[0], FINISHED), 120, "an event in flight")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        done = wait_for(lambda: len(encounters_by_key(app)) == MESSAGES, 180,
                     "every event to be committed")
        assert done
        assert encounters_by_key(app) == {f"e-{i}": 1 for i in range(MESSAGES)}
        survivor_log = logs[1].read_text()
        committed_by_victim = logs[0].read_text().count("\ndone ")
        assert f"done {killed}" in survivor_log or f"done {killed}" in logs[0].read_text()
        assert "dead " not in survivor_log, survivor_log
        assert committed_by_victim < MESSAGES
    finally:
        for p in (victim, locals().get("survivor")):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
