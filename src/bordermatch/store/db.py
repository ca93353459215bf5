"""Engine set-up and schema migrations.

SQLite is the embedded default: WAL journal, foreign keys on, and ``BEGIN IMMEDIATE`` for
every transaction so that appends to the audit hash chain are serialised across processes.
PostgreSQL is the production database; the audit chain serialises with an advisory lock
(see ``audit.py``).
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    # hide_parameters: a database error's text never carries a traveller id or a score.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **kwargs)


def _private_sqlite_file(url: str) -> None:
    """Create the database file owner-only (0600) before SQLite does (with 0644 under the
    usual umask). SQLite gives its -wal and -shm files the mode of the database file, so they
    follow; files left 0644 by an older version are tightened too."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists() and p.stat().st_mode & 0o077:
            log.warning("%s was readable by others; setting mode 0600", p)
            p.chmod(0o600)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" below issue BEGIN itself; pysqlite's implicit BEGIN is
        # deferred and would let two writers read the same audit chain head.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def sessionmaker_for(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("bordermatch.store").joinpath("migrations"))
    )
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this code (what `db upgrade` brings a database to)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations shipped")
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; safe to run at every start-up)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
    log.info("database at revision %s", revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
