"""Migrations, SQLite pragmas, and keys, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from bordermatch.errors import InputError
from bordermatch.store import keys
from bordermatch.store.db import current_revision, head_revision, upgrade
from bordermatch.store.tables import Base


def test_migrations_create_every_table_and_are_idempotent(db_engine):
    assert current_revision(db_engine) == head_revision()
    upgrade(db_engine)  # a second run at start-up must be a no-op
    have = set(inspect(db_engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= have


def test_migration_matches_the_models(db_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Type-only differences (UTCDateTime vs DATETIME) are not reported by default.
    assert diff == []


def test_sqlite_runs_in_wal_mode(db_engine):
    if db_engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_api_keys_are_hashed_at_rest_and_authenticate(sessions, clock):
    with sessions.begin() as s:
        who, token = keys.create_key(s, clock, "officer", "Officer Olsen")
    with sessions() as s:
        row = s.get(keys.ApiKey, who.key_id)
        secret = token.rsplit("_", 1)[1]
        assert secret not in row.secret_hash and token not in row.secret_hash
        assert keys.authenticate(s, token) == who
        assert keys.authenticate(s, token + "x") is None
        assert keys.authenticate(s, "bmk_nope_nope") is None
        assert keys.authenticate(s, "garbage") is None
    with sessions.begin() as s:
        keys.revoke(s, clock, who.key_id)
    with sessions() as s:
        assert keys.authenticate(s, token) is None


def test_unknown_role_is_refused(sessions, clock):
    with sessions.begin() as s, pytest.raises(InputError):
        keys.create_key(s, clock, "janitor", "x")
