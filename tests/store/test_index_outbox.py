"""The shared index's outbox on both databases and a Milvus Lite file: rows commit with the
record, the relay brings the collection to exactly the database's live templates, also
after a process is killed (SIGKILL) between a commit and the relay, or inside the relay."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from bordermatch.store import index_outbox, repo, retention
from bordermatch.store.tables import IndexOutboxEntry

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from bordermatch.service.shared_index import SharedIndexes, collection_name

DIM = 16
MODEL = "sface"

# Run in a child process: open the same database and blob store, do one step, and die by
# SIGKILL right after it, before anything else (the relay included) can run.
CHILD = r"""
import json, os, signal, sys
from datetime import timedelta
import numpy as np
from bordermatch.store import index_outbox, repo, retention
from bordermatch.store.blobs import BlobStore, KeyRing
from bordermatch.store.clock import ManualClock
from bordermatch.store.db import make_engine, sessionmaker_for
from bordermatch.store.keys import Principal

a = json.loads(sys.argv[1])
sessions = sessionmaker_for(make_engine(a["db"]))
blobs = BlobStore(a["blobs"], KeyRing.from_spec(a["keys"]))
clock = ManualClock()
clock.advance(hours=a["hours"])
who = Principal("k-admin", "Ada Admin", "admin")
if a["step"] == "enrol":
    v = np.random.default_rng(a["seed"]).standard_normal(a["dim"]).astype(np.float32)
    t = blobs.put((v / np.linalg.norm(v)).tobytes(), kind="template")
    with sessions.begin() as s:
        g = repo.get_gallery(s, a["gallery"])
        bio = repo.Biographics(a["tid"], "G", "S", "P", "X" + a["tid"], "USA", True)
        e = repo.add_enrolment(s, who, clock.now(), g, bio, None, t, "sface", 80.0,
                               clock.now() + timedelta(hours=1))
    print(e.id, flush=True)
elif a["step"] == "purge":
    retention.purge(sessions, blobs, clock)
elif a["step"] == "relay":
    from bordermatch.service.shared_index import SharedIndexes

    def die(*_args, **_kwargs):  # the index was written; the commit never happens
        os.kill(os.getpid(), signal.SIGKILL)

    index_outbox.mark_applied = die
    SharedIndexes(sessions, blobs, clock, uri=a["milvus"]).sync()
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def milvus_uri(tmp_path: Path) -> str:
    return str(tmp_path / "milvus.db")


def _gallery(sessions, admin, clock) -> str:
    with sessions.begin() as s:
        g = repo.create_gallery(s, admin, clock.now(), "Lane 3", "crossing", clock.now(),
                                clock.now() + timedelta(days=2))
    return g.id


def _enrol(sessions, blobs, admin, clock, gid: str, tid: str, seed: int,
           hours: float = 1.0) -> tuple[str, np.ndarray]:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    v /= np.linalg.norm(v)
    template = blobs.put(v.tobytes(), kind="template")
    with sessions.begin() as s:
        g = repo.get_gallery(s, gid)
        bio = repo.Biographics(tid, "G", "S", "P", f"X{tid}", "USA", True)
        e = repo.add_enrolment(s, admin, clock.now(), g, bio, None, template, MODEL, 80.0,
                               clock.now() + timedelta(hours=hours))
    return e.id, v


def _collection_ids(uri: str, gid: str) -> list[str]:
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    try:
        name = collection_name(gid, MODEL)
        if not client.has_collection(name):
            return []
        client.load_collection(name)  # released when this process's server first opens it
        rows = client.query(name, filter="", output_fields=["id"], limit=16384)
        return sorted(r["id"] for r in rows)
    finally:
        client.close()


def _live(sessions, gid: str) -> list[str]:
    with sessions() as s:
        return sorted(e for e, _, _ in repo.gallery_templates(s, gid, MODEL))


def _child(step: str, db_url: str, blobs, blob_keys: str, milvus: str, **extra) -> str:
    args = {"step": step, "db": db_url, "blobs": str(blobs.root), "keys": blob_keys,
            "milvus": milvus, "dim": DIM, "hours": 0, **extra}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    return done.stdout.strip()


def test_relay_applies_enrolments_purges_and_opt_outs_in_order(
        sessions, blobs, admin, clock, milvus_uri):
    gid = _gallery(sessions, admin, clock)
    ids = {t: _enrol(sessions, blobs, admin, clock, gid, t, i, hours=1 + 10 * (t == "keep"))
           for i, t in enumerate(["keep", "short", "quits"])}
    with sessions.begin() as s:
        repo.opt_out_traveler(s, admin, clock.now(), "quits")
    with sessions() as s:
        ops = [(r.enrolment_id, r.op) for r in index_outbox.pending(s, gid)]
    assert ops == [(ids["keep"][0], "put"), (ids["short"][0], "put"),
                   (ids["quits"][0], "put"), (ids["quits"][0], "delete")]
    shared = SharedIndexes(sessions, blobs, clock, uri=milvus_uri)
    assert shared.sync(gid) == 4 and shared.sync(gid) == 0
    assert _collection_ids(milvus_uri, gid) == _live(sessions, gid) == sorted(
        [ids["keep"][0], ids["short"][0]])
    index = shared.existing(gid, MODEL)
    assert index is not None and index.search(ids["keep"][1][None, :], 1)[1] == [
        [ids["keep"][0]]]
    clock.advance(hours=2)
    assert retention.purge(sessions, blobs, clock).enrolments == 1  # "short"
    # The purge deleted the template blob; a relay that meets its put first skips it.
    assert shared.sync() == 1
    assert _collection_ids(milvus_uri, gid) == _live(sessions, gid) == [ids["keep"][0]]
    shared.close()


def test_a_put_whose_blob_is_gone_only_waits_for_its_delete(
        sessions, blobs, admin, clock, milvus_uri):
    gid = _gallery(sessions, admin, clock)
    _enrol(sessions, blobs, admin, clock, gid, "t1", 1)
    with sessions() as s:
        (row,) = index_outbox.pending(s, gid)
    assert row.template_blob is not None
    blobs.delete(row.template_blob)  # still referenced: the store is damaged, not purged
    shared = SharedIndexes(sessions, blobs, clock, uri=milvus_uri)
    with pytest.raises(Exception, match="no blob"):
        shared.sync()
    with sessions() as s:
        assert index_outbox.pending_count(s) == 1  # nothing marked applied
    shared.close()


def test_enrolment_and_purge_killed_before_the_relay_are_applied_by_a_fresh_process(
        db_url, sessions, blobs, blob_keys, admin, clock, milvus_uri):
    gid = _gallery(sessions, admin, clock)
    first, _ = _enrol(sessions, blobs, admin, clock, gid, "t1", 1, hours=5)
    SharedIndexes(sessions, blobs, clock, uri=milvus_uri).sync()
    killed = _child("enrol", db_url, blobs, blob_keys, milvus_uri, gallery=gid, tid="t2",
                    seed=2)
    assert _live(sessions, gid) == sorted([first, killed])  # committed, then killed
    assert _collection_ids(milvus_uri, gid) == [first]  # the index has not seen it
    fresh = SharedIndexes(sessions, blobs, clock, uri=milvus_uri)
    assert fresh.sync() == 1
    fresh.close()
    assert _collection_ids(milvus_uri, gid) == _live(sessions, gid) == sorted([first, killed])
    # The child's enrolment expires after 1 h, the first after 5 h.
    _child("purge", db_url, blobs, blob_keys, milvus_uri, hours=2)
    assert _live(sessions, gid) == [first]
    assert _collection_ids(milvus_uri, gid) == sorted([first, killed])
    fresh = SharedIndexes(sessions, blobs, clock, uri=milvus_uri)
    assert fresh.sync() == 1
    fresh.close()
    assert _collection_ids(milvus_uri, gid) == _live(sessions, gid) == [first]


def test_relay_killed_after_writing_the_index_is_replayed_without_duplicates(
        db_url, sessions, blobs, blob_keys, admin, clock, milvus_uri):
    gid = _gallery(sessions, admin, clock)
    for i in range(3):
        _enrol(sessions, blobs, admin, clock, gid, f"t{i}", i)
    with sessions.begin() as s:
        repo.opt_out_traveler(s, admin, clock.now(), "t0")
    _child("relay", db_url, blobs, blob_keys, milvus_uri)
    with sessions() as s:
        assert index_outbox.pending_count(s) == 4  # the relay's transaction never committed
    fresh = SharedIndexes(sessions, blobs, clock, uri=milvus_uri)
    assert fresh.sync() == 4
    index = fresh.existing(gid, MODEL)
    assert index is not None and len(index) == 2  # upserts: no id twice
    fresh.close()
    assert _collection_ids(milvus_uri, gid) == _live(sessions, gid)
    with sessions() as s:
        applied = s.scalars(select(IndexOutboxEntry.applied_at)).all()
    assert len(applied) == 4 and all(a is not None for a in applied)


def test_the_schedule_applies_everything_and_prunes_only_old_applied_rows(
        sessions, blobs, admin, clock, milvus_uri):
    gid = _gallery(sessions, admin, clock)
    _enrol(sessions, blobs, admin, clock, gid, "t1", 1)
    shared = SharedIndexes(sessions, blobs, clock, uri=milvus_uri)
    assert shared.scheduled() == 1
    clock.advance(days=2)
    _enrol(sessions, blobs, admin, clock, gid, "t2", 2)
    assert shared.scheduled() == 1  # t2 applied now, t1's row applied 2 days ago dropped
    with sessions() as s:
        rows = s.scalars(select(IndexOutboxEntry)).all()
    assert [r.op for r in rows] == ["put"] and rows[0].applied_at is not None
    assert _collection_ids(milvus_uri, gid) == _live(sessions, gid)
    shared.close()
