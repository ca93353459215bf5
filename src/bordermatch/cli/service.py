"""Service commands: ``serve``, ``keys create|list|revoke``, ``audit verify``, ``purge``,
``db upgrade``. Settings come from ``BORDERMATCH_*`` environment variables (see
docs/service.md); ``--database-url`` overrides the database."""

from __future__ import annotations

import logging
from typing import Any

import typer

log = logging.getLogger(__name__)

keys_app = typer.Typer(no_args_is_help=True, help="Issue, list and revoke API keys.")
audit_app = typer.Typer(no_args_is_help=True, help="Check the audit log.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")

DbUrl = typer.Option(None, "--database-url", envvar="BORDERMATCH_DATABASE_URL",
                     help="SQLAlchemy URL (default sqlite:///bordermatch.db).")


def _settings(database_url: str | None):
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from bordermatch.errors import BordermatchError
    from bordermatch.store.config import ServiceSettings

    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    try:
        return ServiceSettings(**overrides)
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:  # a BORDERMATCH_* value out of range or of the wrong type
        first = exc.errors()[0]
        name = "BORDERMATCH_" + "__".join(str(p) for p in first["loc"]).upper()
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        typer.echo(f"error (config_error): {name}: {first['msg']}{more}", err=True)
        raise typer.Exit(2) from None
    except SettingsError as exc:  # a list or object setting that is not JSON
        typer.echo(f"error (config_error): {exc}; list settings are JSON, e.g. "
                   """'["lane-1","lane-2"]'""", err=True)
        raise typer.Exit(2) from None


def _sessions(database_url: str | None, migrate: bool = True):
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade

    engine = make_engine(_settings(database_url).database_url)
    if migrate:
        upgrade(engine)
    return sessionmaker_for(engine)


def serve(host: str = typer.Option("127.0.0.1", help="Interface to bind."),
          port: int = typer.Option(8000, help="TCP port."),
          database_url: str | None = DbUrl) -> None:
    """Run the HTTP service (uvicorn)."""
    import uvicorn

    from bordermatch.api.app import create_app
    from bordermatch.errors import BordermatchError

    try:
        app = create_app(_settings(database_url))
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
    uvicorn.run(app, host=host, port=port, log_level="info")


@keys_app.command("create")
def keys_create(role: str = typer.Option(..., "--role", help="lane_device | gate_device | "
                                         "booth_device | kiosk_device | mobile_device | "
                                         "officer | supervisor | auditor | airline_partner "
                                         "| admin"),
                name: str = typer.Option(..., "--name", help="Person or device it is for."),
                lane: list[str] = typer.Option(
                    [], "--lane", help="A lane the key may submit for; repeat for several. "
                    "Required for lane_device, gate_device, booth_device, kiosk_device, "
                    "mobile_device (its post) and "
                    "airline_partner keys (a partner's boarding lanes are gate:<gate>)."),
                database_url: str | None = DbUrl) -> None:
    """Issue a key. The token is printed once and never stored."""
    from bordermatch.errors import InputError
    from bordermatch.store import keys
    from bordermatch.store.clock import SystemClock

    sessions = _sessions(database_url)
    try:
        with sessions.begin() as s:
            who, token = keys.create_key(s, SystemClock(), role, name, lane)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"key id {who.key_id} for {who.name} ({who.role}):", err=True)
    typer.echo(token)


@keys_app.command("list")
def keys_list(database_url: str | None = DbUrl) -> None:
    from bordermatch.store import keys

    with _sessions(database_url)() as s:
        for k in keys.list_keys(s):
            state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
            lanes = ",".join(k.lanes or ()) or "-"
            typer.echo(f"{k.id}\t{k.role}\t{k.name}\t{lanes}\t{state}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, database_url: str | None = DbUrl) -> None:
    from bordermatch.errors import UnknownRecordError
    from bordermatch.store import keys
    from bordermatch.store.clock import SystemClock

    try:
        with _sessions(database_url).begin() as s:
            keys.revoke(s, SystemClock(), key_id)
    except UnknownRecordError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(database_url: str | None = DbUrl) -> None:
    """Recompute the hash chain; exit 1 and name the first bad entry if it was tampered with."""
    from bordermatch.store import audit
    from bordermatch.store.db import current_revision, head_revision

    sessions = _sessions(database_url, migrate=False)
    if current_revision(sessions.kw["bind"]) != head_revision():
        typer.echo("error: no bordermatch database at this URL (or not migrated)", err=True)
        raise typer.Exit(2)
    with sessions() as s:
        report = audit.verify_chain(s)
    if report.ok:
        typer.echo(f"ok: {report.entries} entries, head {report.head_hash}")
        return
    typer.echo(f"TAMPERED: entry {report.first_bad_seq}: {report.problem} "
               f"({report.entries} entries verified before it)", err=True)
    raise typer.Exit(1)


def purge(database_url: str | None = DbUrl) -> None:
    """Purge photos and templates past retention, and sweep orphan blobs."""
    from datetime import timedelta

    from bordermatch.errors import ConfigError
    from bordermatch.store import retention
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.clock import SystemClock

    settings = _settings(database_url)
    try:
        ring = (KeyRing.from_spec(settings.blob_keys.get_secret_value()) if settings.blob_keys
                else KeyRing.from_env())
    except ConfigError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
    sessions, store = _sessions(database_url), BlobStore(settings.blob_dir, ring)
    report = retention.run_once(sessions, store, SystemClock(),
                                timedelta(seconds=settings.orphan_grace_s))
    typer.echo(f"purged {report.enrolments} enrolments, {report.occupants} occupants, "
               f"{report.document_reads} document reads and "
               f"{report.fingerprint_probes} fingerprint probes "
               f"({report.blobs_deleted} blobs); orphans: {report.orphans_marked} marked, "
               f"{report.orphans_deleted} deleted")
    from bordermatch.service.shared_index import SHARED_BACKENDS, SharedIndexes

    if settings.index_backend in SHARED_BACKENDS:  # the relay's schedule (docs/scale.md)
        token = settings.index_token.get_secret_value() if settings.index_token else None
        try:
            shared = SharedIndexes(sessions, store, SystemClock(), uri=settings.index_uri,
                                   token=token, index_type=settings.index_type)
            typer.echo(f"shared index: applied {shared.scheduled()} outbox rows")
        except ConfigError as exc:
            typer.echo(f"error ({exc.code}): {exc}", err=True)
            raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head"),
               database_url: str | None = DbUrl) -> None:
    """Run the Alembic migrations up to REVISION."""
    from bordermatch.store.db import current_revision, make_engine, upgrade

    engine = make_engine(_settings(database_url).database_url)
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("purge")(purge)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")
