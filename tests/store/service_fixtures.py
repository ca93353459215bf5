"""Database, blob store and clock fixtures for the store and API tests.

``db_engine`` is parametrised over SQLite (a fresh file per test) and PostgreSQL (one schema
per test session, emptied between tests, dropped at the end, so concurrent runs on one
server do not collide). The PostgreSQL variant skips with a message when no server answers
at ``BORDERMATCH_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["admin", "blob_keys", "blobs", "clock", "db_engine", "db_url", "pg_url", "sessions"]

PG_URL = os.environ.get("BORDERMATCH_TEST_PG",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    schema = f"bm_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to reach the server means "no PostgreSQL here"
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); start one "
                    "(.ci/run does) or set BORDERMATCH_TEST_PG")
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    from bordermatch.store.db import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bordermatch.db'}"
    url = request.getfixturevalue("pg_url")
    from sqlalchemy import create_engine, text

    from bordermatch.store.tables import Base

    engine = create_engine(url)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def db_engine(db_url: str):
    from bordermatch.store.db import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine):
    from bordermatch.store.db import sessionmaker_for

    return sessionmaker_for(db_engine)


@pytest.fixture
def clock():
    from bordermatch.store.clock import ManualClock

    return ManualClock()


@pytest.fixture
def blob_keys() -> str:
    from bordermatch.store.blobs import KeyRing

    return KeyRing.encode_entry("test1", KeyRing.generate_key())


@pytest.fixture
def blobs(tmp_path: Path, blob_keys: str):
    from bordermatch.store.blobs import BlobStore, KeyRing

    return BlobStore(tmp_path / "blobs", KeyRing.from_spec(blob_keys))


@pytest.fixture
def admin():
    from bordermatch.store.keys import Principal

    return Principal("k-admin", "Ada Admin", "admin")
