"""SQLite files are private to the service user; failed-auth counters live in the database."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bordermatch.store import authlimit
from bordermatch.store.db import make_engine, upgrade
from bordermatch.store.tables import AuditEvent, AuthFailure


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sqlite_database_wal_and_shm_are_created_0600(tmp_path):
    old = os.umask(0o022)  # the usual umask, under which SQLite alone creates 0644
    try:
        db = tmp_path / "bm.db"
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        with engine.begin() as conn:  # a write, so the -wal and -shm files exist
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            files = [db, tmp_path / "bm.db-wal", tmp_path / "bm.db-shm"]
            assert all(p.exists() for p in files)
            assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_world_readable_sqlite_file_is_tightened(tmp_path):
    db = tmp_path / "old.db"
    db.touch()
    db.chmod(0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600


POLICY = authlimit.Policy(3, timedelta(minutes=5), timedelta(minutes=15))


def test_failures_lock_an_address_and_are_audited(sessions, clock):
    now = clock.now()
    assert authlimit.record_failure(sessions, now, "10.0.0.9", POLICY, "abc123", "invalid_key",
                                    "/v1/galleries") is None
    assert authlimit.record_failure(sessions, now, "10.0.0.9", POLICY, None, "invalid_key",
                                    "/v1/galleries") is None
    until = authlimit.record_failure(sessions, now, "10.0.0.9", POLICY, None, "invalid_key",
                                     "/v1/galleries")
    assert until == now + POLICY.lockout
    with sessions() as s:
        assert authlimit.locked_until(s, now + timedelta(minutes=14), "10.0.0.9") == until
        assert authlimit.locked_until(s, now + timedelta(minutes=15), "10.0.0.9") is None
        assert authlimit.locked_until(s, now, "10.0.0.10") is None  # per address
        actions = [a for a, in s.execute(select(AuditEvent.action).order_by(AuditEvent.seq))]
        assert actions == ["auth.failed"] * 3 + ["auth.lockout"]
        first = s.scalar(select(AuditEvent).order_by(AuditEvent.seq))
        assert first.resource_id == "abc123" and first.detail["source"] == "10.0.0.9"


def test_failures_outside_the_window_do_not_add_up(sessions, clock):
    now = clock.now()
    for k in range(5):
        assert authlimit.record_failure(sessions, now + k * POLICY.window, "10.0.0.1", POLICY,
                                        None, "invalid_key", "/v1/review") is None
    with sessions() as s:
        assert s.get(AuthFailure, "10.0.0.1").failures == 1


@pytest.mark.parametrize("token", ["bmk_abc_def", "bmk_ABC_x", "nope", "bmk_" + "a" * 40 + "_x",
                                   "bmk_ab'; DROP_x"])
def test_claimed_key_id_is_only_a_plausible_id(token):
    got = authlimit.claimed_key_id(token)
    assert got == ("abc" if token == "bmk_abc_def" else None)
