"""`bordermatch index`: a directory another server holds, a missing URI and an in-process
backend are each one line and exit 2; `sync` applies the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bordermatch.cli import app

pytest.importorskip("milvus_lite")


def test_serve_refuses_a_directory_another_server_holds(tmp_path: Path):
    from bordermatch.index.milvus_serve import start

    server, db, _ = start(tmp_path / "milvus", port=0)
    try:
        r = CliRunner().invoke(app, ["index", "serve", "--db", str(tmp_path / "milvus"),
                                     "--port", "0"])
    finally:
        server.stop(0)
        db.close()
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot serve"), r.output


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "is in-process; nothing to sync"),
    ({"BORDERMATCH_INDEX_BACKEND": "milvus"}, "needs index_uri"),
])
def test_sync_without_a_shared_index_is_one_line(tmp_path: Path, env: dict[str, str],
                                                 expected: str):
    from bordermatch.store.blobs import KeyRing

    env = {**env, "BORDERMATCH_BLOB_KEYS": KeyRing.encode_entry("k1", KeyRing.generate_key())}
    url = f"sqlite:///{tmp_path / 'bm.db'}"
    r = CliRunner().invoke(app, ["index", "sync", "--database-url", url], env=env)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.output


def test_sync_applies_pending_rows(tmp_path: Path):
    url, env, _, _ = _enrolled(tmp_path, 1)
    runs = [CliRunner().invoke(app, ["index", "sync", "--database-url", url], env=env)
            for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output
    assert [r.output.strip() for r in runs] == ["applied 1 outbox rows",
                                                "applied 0 outbox rows"]


def _enrolled(tmp_path: Path, n: int):
    """A SQLite database with ``n`` enrolments in one gallery, and the CLI's environment."""
    from datetime import timedelta

    import numpy as np

    from bordermatch.store import repo
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.clock import ManualClock
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade
    from bordermatch.store.keys import Principal

    keys = KeyRing.encode_entry("k1", KeyRing.generate_key())
    env = {"BORDERMATCH_BLOB_KEYS": keys, "BORDERMATCH_INDEX_BACKEND": "milvus",
           "BORDERMATCH_INDEX_URI": str(tmp_path / "milvus.db"),
           "BORDERMATCH_BLOB_DIR": str(tmp_path / "blobs")}
    url = f"sqlite:///{tmp_path / 'bm.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions, clock = sessionmaker_for(engine), ManualClock()
    who = Principal("k-admin", "Ada Admin", "admin")
    blobs = BlobStore(tmp_path / "blobs", KeyRing.from_spec(keys))
    rng = np.random.default_rng(0)
    ids = []
    with sessions.begin() as s:
        g = repo.create_gallery(s, who, clock.now(), "Lane 1", "crossing", clock.now(),
                                clock.now() + timedelta(days=1))
        for i in range(n):
            v = rng.normal(size=128).astype(np.float32)
            v /= np.linalg.norm(v)
            e = repo.add_enrolment(s, who, clock.now(), g, repo.Biographics(
                f"t{i}", "G", "S", "P", f"X{i}", "USA", True), None,
                blobs.put(v.tobytes(), kind="template"), "sface", 80.0,
                clock.now() + timedelta(hours=1))
            ids.append(e.id)
        gallery_id = g.id
    engine.dispose()
    return url, env, gallery_id, sorted(ids)


def test_rebuild_refills_a_collection_that_lost_rows_or_holds_a_ghost(tmp_path: Path):
    import numpy as np

    from bordermatch.index.milvus import MilvusIndex
    from bordermatch.service.shared_index import collection_name

    url, env, gallery_id, ids = _enrolled(tmp_path, 3)
    r = CliRunner().invoke(app, ["index", "sync", "--database-url", url], env=env)
    assert r.exit_code == 0, r.output
    col = MilvusIndex(None, uri=env["BORDERMATCH_INDEX_URI"],
                      collection=collection_name(gallery_id, "sface"))
    try:
        col.remove([ids[0]])  # a server that lost a row
        col.upsert(["ghost"], np.full((1, 128), 1 / np.sqrt(128), np.float32))
        assert ids[0] not in col and "ghost" in col
    finally:
        col.close()
    r = CliRunner().invoke(app, ["index", "rebuild", "--gallery", gallery_id,
                                 "--database-url", url], env=env)
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"gallery {gallery_id}: 3 templates queued, collection holds 3"
    col = MilvusIndex(None, uri=env["BORDERMATCH_INDEX_URI"],
                      collection=collection_name(gallery_id, "sface"))
    try:
        assert all(i in col for i in ids) and "ghost" not in col and len(col) == 3
    finally:
        col.close()
    # Nothing is left pending: a sync after it applies nothing.
    r = CliRunner().invoke(app, ["index", "sync", "--database-url", url], env=env)
    assert r.output.strip() == "applied 0 outbox rows"


def test_a_rebuild_that_dies_after_the_drop_leaves_the_rows_for_the_next_relay(
        tmp_path: Path, monkeypatch):
    from bordermatch.service.shared_index import SharedIndexes
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.clock import SystemClock
    from bordermatch.store.db import make_engine, sessionmaker_for

    url, env, gallery_id, ids = _enrolled(tmp_path, 4)
    engine = make_engine(url)
    shared = SharedIndexes(sessionmaker_for(engine),
                           BlobStore(tmp_path / "blobs",
                                     KeyRing.from_spec(env["BORDERMATCH_BLOB_KEYS"])),
                           SystemClock(), uri=env["BORDERMATCH_INDEX_URI"])
    try:
        assert shared.sync() == 4
        real = shared._apply

        def crash(s, rows):
            raise RuntimeError("killed mid-rebuild")

        monkeypatch.setattr(shared, "_apply", crash)
        with pytest.raises(RuntimeError):
            shared.rebuild(gallery_id, "sface")
        assert shared.existing(gallery_id, "sface") is None  # dropped, then died
        monkeypatch.setattr(shared, "_apply", real)
        assert shared.sync() == 4  # the queued rows survived the crash
        assert sorted(i for i in ids if i in shared.index(gallery_id, "sface", 128)) == ids
    finally:
        shared.close()
        engine.dispose()


def test_rebuild_of_an_unknown_gallery_is_one_line(tmp_path: Path):
    url, env, _, _ = _enrolled(tmp_path, 1)
    r = CliRunner().invoke(app, ["index", "rebuild", "--gallery", "nope",
                                 "--database-url", url], env=env)
    assert r.exit_code == 2, r.output
    assert r.output.strip().splitlines() == ["error (unknown_record): no gallery 'nope'"]
