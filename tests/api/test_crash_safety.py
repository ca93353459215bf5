"""Crash safety: ``kill -9`` a real server process in the middle of a burst of encounters.

A real ``bordermatch serve`` (uvicorn) on a loopback port, SQLite and blobs in a temp dir.
Several clients submit gate encounters (real face engine) with Idempotency-Keys; once a few
are acknowledged the server gets SIGKILL while others are in flight. After a restart:

* every acknowledged (2xx) encounter is there, with the occupants it was acknowledged with,
  and resubmitting it replays the same record instead of creating a second one;
* no half-written record: every encounter has its occupants and its audit entry, every blob
  a row names exists and decrypts, the SQLite file passes ``integrity_check`` and the audit
  hash chain verifies;
* no orphan blob: after the start-up sweep every blob on disk is referenced, and temp files
  of interrupted writes are gone.

Bounded: a dozen requests or so, about half a minute on a quiet 2-core machine.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.api.api_helpers import DEVICE_LANES, auth, lanes_for
from tests.api.serve_helpers import Server, free_port

log = logging.getLogger(__name__)

_REFERENCED = ("SELECT capture_blob FROM occupants UNION SELECT template_blob FROM occupants "
               "UNION SELECT photo_blob FROM enrolments "
               "UNION SELECT template_blob FROM enrolments")
ACK_BEFORE_KILL = 6  # acknowledged encounters before the kill
CLIENTS = 4
PER_CLIENT = 6  # upper bound on submissions per client


@pytest.fixture
def crash_env(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    from bordermatch.store import keys
    from bordermatch.store.blobs import KeyRing
    from bordermatch.store.clock import SystemClock
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade

    db_url = f"sqlite:///{tmp_path / 'service.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    tokens = {}
    with sessionmaker_for(engine).begin() as s:
        for role in ("admin", "officer", "gate_device", "auditor"):
            _, tokens[role] = keys.create_key(s, SystemClock(), role, f"crash {role}",
                                                lanes_for(role))
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERMATCH_")}
    env.update({
        "BORDERMATCH_DATABASE_URL": db_url,
        "BORDERMATCH_BLOB_DIR": str(tmp_path / "blobs"),
        "BORDERMATCH_BLOB_KEYS": KeyRing.encode_entry("crash1", KeyRing.generate_key()),
        "BORDERMATCH_MATCHER": "sface",
        # The default 600 s grace protects requests in flight; the sweep is shown after
        # the restart with a short one (see _restart_and_sweep).
        "BORDERMATCH_PURGE_INTERVAL_S": "3600",
        "OMP_NUM_THREADS": "1",
    })
    server = Server(tmp_path, env, free_port())
    try:
        yield server, tokens
    finally:
        server.kill()


def test_kill_9_mid_burst_loses_nothing_acknowledged(crash_env, photos):
    import httpx

    server, tokens = crash_env
    server.start()
    with httpx.Client(base_url=server.url, timeout=120) as api:
        gallery = _gallery_with_two_travellers(api, tokens, photos)

    acked: dict[str, dict] = {}  # Idempotency-Key -> acknowledged body
    tried: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            for i in range(PER_CLIENT):
                key = f"burst-{n}-{i}"
                with lock:
                    tried.append(key)
                try:
                    r = _gate(c, tokens, gallery, photos["obama2" if i % 2 else "biden2"], key)
                except httpx.TransportError:
                    return  # the server died under this request: outcome unknown
                if 200 <= r.status_code < 300:
                    with lock:
                        acked[key] = r.json()
                        if len(acked) >= ACK_BEFORE_KILL:
                            enough.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    assert enough.wait(timeout=240), f"too few acknowledged: {server.log_tail()}"
    server.kill()  # SIGKILL while the other clients' requests are in flight
    for t in threads:
        t.join(timeout=60)
    with lock:
        acked_now, tried_now = dict(acked), list(tried)
    assert len(acked_now) >= ACK_BEFORE_KILL
    unacked = [k for k in tried_now if k not in acked_now]
    before = _crash_leftovers(server)
    log.info("kill -9 after %d acknowledged, %d unacknowledged; left behind: %s",
             len(acked_now), len(unacked), before)

    _restart_and_sweep(server)
    with httpx.Client(base_url=server.url, timeout=120) as api:
        for key, body in acked_now.items():
            got = api.get(f"/v1/encounters/{body['id']}", headers=auth(tokens["officer"]))
            assert got.status_code == 200, (key, got.text)
            # The device was answered with decisions only; the record holds the rest.
            assert [(o["track_id"], o["decision"]) for o in got.json()["occupants"]] == [
                (o["track_id"], o["decision"]) for o in body["occupants"]], key
        # A retry of an acknowledged submission is a replay of the same record.
        for key, body in list(acked_now.items())[:3]:
            photo = photos["obama2" if int(key.rsplit("-", 1)[1]) % 2 else "biden2"]
            again = _gate(api, tokens, gallery, photo, key)
            assert again.status_code == 200 and again.json()["id"] == body["id"], again.text
        chain = api.get("/v1/audit/verify", headers=auth(tokens["auditor"])).json()
        assert chain["ok"], chain
    server.stop()

    _check_store(server, acked_now, unacked)


def _gallery_with_two_travellers(api, tokens, photos) -> str:
    now = datetime.now(UTC)
    g = api.post("/v1/galleries", headers=auth(tokens["admin"]), json={
        "name": "crash test", "kind": "crossing",
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(), "lanes": list(DEVICE_LANES)})
    assert g.status_code == 201, g.text
    gallery = g.json()["id"]
    for tid, name in (("T-OBAMA", "obama"), ("T-BIDEN", "biden")):
        r = api.post(f"/v1/galleries/{gallery}/travelers", headers=auth(tokens["officer"]),
                     data={"traveler_id": tid, "given_names": "A", "surname": name,
                           "document_type": "P", "document_number": tid,
                           "nationality": "USA", "citizen": "false"},
                     files={"photo": ("p.jpg", photos[name], "image/jpeg")})
        assert r.status_code == 201, r.text
    return gallery


def _gate(client, tokens, gallery, photo: bytes, key: str):
    return client.post("/v1/encounters/gate",
                       headers=auth(tokens["gate_device"]) | {"Idempotency-Key": key},
                       data={"gallery_id": gallery, "lane": "gate-1", "direction": "entry"},
                       files={"photo": ("p.jpg", photo, "image/jpeg")})


def _crash_leftovers(server: Server) -> dict[str, int]:
    """What the crash left, before any sweep (for the log: shows what the test exercised)."""
    root = Path(server.env["BORDERMATCH_BLOB_DIR"])
    db_path = server.env["BORDERMATCH_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as con:
        referenced = {b for (b,) in con.execute(_REFERENCED) if b}
        stored = con.execute("SELECT count(*) FROM encounters").fetchone()[0]
    on_disk = {p.name for p in root.glob("*/*") if not p.name.startswith(".")}
    return {"encounters": stored, "orphan_blobs": len(on_disk - referenced),
            "temp_files": len(list(root.glob("*/.*.tmp")))}


def _restart_and_sweep(server: Server) -> None:
    """Restart as an operator would; the start-up purge sweeps what the crash left.

    Temp files of interrupted blob writes are only removed once older than the in-flight
    window (10 minutes), so they are aged first, as if the restart came that much later.
    The orphan sweep marks unreferenced blobs on its first pass and deletes them one grace
    period later: a short grace and interval make that happen within seconds.
    """
    blob_root = Path(server.env["BORDERMATCH_BLOB_DIR"])
    old = time.time() - 3600
    for tmp in blob_root.glob("*/.*.tmp"):
        os.utime(tmp, (old, old))
    server.env.update({"BORDERMATCH_ORPHAN_GRACE_S": "1", "BORDERMATCH_PURGE_INTERVAL_S": "0.5"})
    server.start()
    # The first pass marks, a pass one grace period later deletes; a loaded machine may
    # need a few more passes.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = _crash_leftovers(server)
        if left["orphan_blobs"] == 0 and left["temp_files"] == 0:
            break
        time.sleep(0.5)


def _check_store(server: Server, acked: dict[str, dict], unacked: list[str]) -> None:
    from bordermatch.store import audit
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.db import make_engine, sessionmaker_for

    db_path = server.env["BORDERMATCH_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        encounters = con.execute(
            "SELECT id, idempotency_key FROM encounters WHERE kind = 'gate'").fetchall()
        keys_seen = [k for _, k in encounters]
        assert len(keys_seen) == len(set(keys_seen)), "an encounter was stored twice"
        assert {b["id"] for b in acked.values()} <= {i for i, _ in encounters}
        # Only submissions the clients actually made can exist.
        assert set(keys_seen) <= set(acked) | set(unacked)
        for enc_id, _ in encounters:
            n_occ = con.execute("SELECT count(*) FROM occupants WHERE encounter_id = ?",
                                (enc_id,)).fetchone()[0]
            assert n_occ >= 1, f"encounter {enc_id} has no occupants"
            n_audit = con.execute("SELECT count(*) FROM audit_log WHERE resource_id = ? AND "
                                  "action = 'encounter.gate'", (enc_id,)).fetchone()[0]
            assert n_audit == 1, f"encounter {enc_id} has {n_audit} audit entries"
        referenced = {b for (b,) in con.execute(_REFERENCED) if b}

    blobs = BlobStore(Path(server.env["BORDERMATCH_BLOB_DIR"]),
                      KeyRing.from_spec(server.env["BORDERMATCH_BLOB_KEYS"]))
    on_disk = set(blobs.ids())
    assert referenced <= on_disk, f"rows name missing blobs: {sorted(referenced - on_disk)}"
    for blob_id in referenced:
        assert blobs.get(blob_id)  # decrypts and authenticates
    assert on_disk <= referenced, f"orphan blobs: {sorted(on_disk - referenced)}"
    leftovers = list(Path(server.env["BORDERMATCH_BLOB_DIR"]).glob("*/.*.tmp"))
    assert not leftovers, f"temp files of interrupted writes remain: {leftovers}"

    engine = make_engine(server.env["BORDERMATCH_DATABASE_URL"])
    try:
        with sessionmaker_for(engine)() as s:
            assert audit.verify_chain(s).ok
    finally:
        engine.dispose()

