"""Two service instances on one database and one `bordermatch index serve` (Milvus Lite in
its own process): an enrolment through one is found by the other's search."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from tests.api.api_helpers import DEVICE_LANES, auth
from tests.api.serve_helpers import free_port

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")


@pytest.fixture
def milvus_server(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "bordermatch", "index", "serve", "--db",
                             str(tmp_path / "milvus"), "--port", str(port)], env=env,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"index serve did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGINT)  # a clean stop releases the data directory
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_an_enrolment_through_one_instance_is_searched_by_another(
        settings, clock, blobs, face_engine, photos, milvus_server):
    from fastapi.testclient import TestClient

    from bordermatch.api.app import create_app
    from bordermatch.store import index_outbox, keys

    shared = settings.model_copy(update={"index_backend": "milvus",
                                         "index_uri": milvus_server})
    apps = [create_app(shared, clock=clock, engine_factory=lambda: face_engine, blobs=blobs)
            for _ in range(2)]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        with apps[0].state.service.sessions.begin() as s:
            _, admin = keys.create_key(s, clock, "admin", "admin")
            _, officer = keys.create_key(s, clock, "officer", "officer")
        now = clock.now()
        r = one.post("/v1/galleries", headers=auth(admin), json={
            "name": "Flight BM7", "kind": "flight",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(), "lanes": list(DEVICE_LANES)})
        assert r.status_code == 201, r.text
        gallery = r.json()["id"]

        def enrol(client, tid, photo):
            r = client.post(
                f"/v1/galleries/{gallery}/travelers", headers=auth(officer),
                data={"traveler_id": tid, "given_names": "A", "surname": "B",
                      "document_type": "P", "document_number": tid, "nationality": "USA",
                      "citizen": "true"}, files={"photo": ("p.jpg", photo, "image/jpeg")})
            assert r.status_code == 201, r.text
            return r.json()

        # Each instance searches once first, so each holds its own view of the gallery.
        assert enrol(two, "T-2", photos["biden"])["alias_alerts"] == []
        assert enrol(one, "T-1", photos["obama"])["alias_alerts"] == []
        # The second instance's alias scan goes through the shared index to T-1.
        alias = enrol(two, "T-3", photos["obama2"])
        assert len(alias["alias_alerts"]) == 1
        queue = two.get("/v1/review", headers=auth(officer)).json()
        item = next(i for i in queue if i["id"] == alias["alias_alerts"][0])
        assert (item["traveler_id"], item["other_traveler_id"]) == ("T-3", "T-1")
        cores = [a.state.service for a in apps]
        stored = [c.gallery(gallery) for c in cores]
        from bordermatch.index.milvus import MilvusIndex

        assert all(isinstance(g.index, MilvusIndex) for g in stored)
        # One collection, three references, no rebuild (an add of a present id would fail).
        assert len(stored[0].index) == len(stored[1].index) == 3
        with cores[0].sessions() as s:
            assert index_outbox.pending_count(s) == 0
