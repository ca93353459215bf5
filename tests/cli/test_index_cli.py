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
    v = np.full(8, 1 / np.sqrt(8), np.float32)
    template = BlobStore(tmp_path / "blobs", KeyRing.from_spec(keys)).put(v.tobytes(),
                                                                          kind="template")
    with sessions.begin() as s:
        g = repo.create_gallery(s, who, clock.now(), "Lane 1", "crossing", clock.now(),
                                clock.now() + timedelta(days=1))
        repo.add_enrolment(s, who, clock.now(), g, repo.Biographics(
            "t1", "G", "S", "P", "X1", "USA", True), None, template, "sface", 80.0,
            clock.now() + timedelta(hours=1))
    engine.dispose()
    runs = [CliRunner().invoke(app, ["index", "sync", "--database-url", url], env=env)
            for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output
    assert [r.output.strip() for r in runs] == ["applied 1 outbox rows",
                                                "applied 0 outbox rows"]
