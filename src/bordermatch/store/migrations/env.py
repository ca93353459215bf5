"""Alembic environment: runs on the engine that ``bordermatch.store.db.upgrade`` hands in."""

from __future__ import annotations

from alembic import context

from bordermatch.store.tables import Base

config = context.config


def run() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are unsupported; "
                     "run `bordermatch db upgrade`")
run()
