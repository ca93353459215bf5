"""Durable ingest: ``bordermatch worker`` and ``bordermatch ingest publish-lane|dead-letters``.

Settings come from ``BORDERMATCH_*`` like the service (``broker_url``, ``ingest_queue``,
``ingest_max_deliveries``); the options override them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from bordermatch.cli._common import EXIT_OS

app = typer.Typer(no_args_is_help=True, help="Publish to and inspect the ingest broker.")

BrokerUrl = typer.Option(None, "--broker", envvar="BORDERMATCH_BROKER_URL",
                         help="AMQP URL (default amqp://guest:guest@127.0.0.1:5672/%2F).")
Queue = typer.Option(None, "--queue", help="Ingest queue (default bordermatch.encounters).")
DbUrl = typer.Option(None, "--database-url", envvar="BORDERMATCH_DATABASE_URL",
                     help="SQLAlchemy URL (default sqlite:///bordermatch.db).")


def _settings(database_url: str | None, broker_url: str | None, queue: str | None):
    from bordermatch.store.config import ServiceSettings

    overrides: dict[str, Any] = {k: v for k, v in (("database_url", database_url),
                                                   ("broker_url", broker_url),
                                                   ("ingest_queue", queue)) if v}
    return _checked(lambda: ServiceSettings(**overrides))


def _checked(call):
    from bordermatch.errors import BordermatchError

    try:
        return call()
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error (os_error): {exc}", err=True)
        raise typer.Exit(EXIT_OS) from None


def _topology(settings):
    from bordermatch.ingest.broker import Topology

    return Topology(settings.ingest_queue, settings.ingest_max_deliveries)


def worker(database_url: str | None = DbUrl, broker_url: str | None = BrokerUrl,
           queue: str | None = Queue,
           max_messages: int | None = typer.Option(None, min=1,
                                                   help="Exit after this many messages."),
           metrics_port: int | None = typer.Option(
               None, min=1, max=65535, help="Serve this worker's Prometheus metrics on "
               "127.0.0.1:PORT (one exporter per worker)."),
           ) -> None:
    """Consume encounters from the broker, commit each record, then acknowledge it."""
    from bordermatch.ingest.exporter import WorkerMetrics
    from bordermatch.ingest.worker import Worker
    from bordermatch.service.factory import build_service

    settings = _settings(database_url, broker_url, queue)
    service, db = _checked(lambda: build_service(settings))
    metrics = None
    if metrics_port is not None:
        metrics = WorkerMetrics(settings.metrics_lanes)
        _checked(lambda: metrics.serve(metrics_port))
    try:
        n = _checked(lambda: Worker(service, _topology(settings), metrics).run(
            settings.broker_url, max_messages=max_messages))
    finally:
        db.dispose()
    typer.echo(f"worker stopped after {n} messages", err=True)


@app.command("publish-lane")
def publish_lane(
    events: Path = typer.Option(..., "--events", help="Folder of lane event folders."),
    gallery_id: str = typer.Option(..., "--gallery", help="Gallery id in the service."),
    api_key: str = typer.Option(..., "--api-key", envvar="BORDERMATCH_API_KEY",
                                help="The lane device's key."),
    broker_url: str | None = BrokerUrl, queue: str | None = Queue,
) -> None:
    """Publish each event folder as a vehicle encounter (a lane device's side)."""
    from bordermatch.ingest.broker import Publisher
    from bordermatch.ingest.messages import vehicle_message
    from bordermatch.lane.events import event_folders

    settings = _settings(None, broker_url, queue)
    folders = _checked(lambda: event_folders(events))
    sent = 0
    with _checked(lambda: Publisher(settings.broker_url, _topology(settings))) as pub:
        for folder in folders:
            msg = _checked(lambda f=folder: vehicle_message(f, gallery_id))
            pub.send(msg.encode(), api_key, message_id=msg.encounter_id)
            sent += 1
    typer.echo(f"published {sent} vehicle events to {settings.ingest_queue}")


@app.command("dead-letters")
def dead_letters(broker_url: str | None = BrokerUrl, queue: str | None = Queue,
                 as_json: bool = typer.Option(False, "--json"),
                 limit: int = typer.Option(100, min=1, max=10_000)) -> None:
    """List the messages that failed, with their reasons (they stay in the queue)."""
    from bordermatch.ingest.broker import dead_letters as peek

    settings = _settings(None, broker_url, queue)
    rows = _checked(lambda: peek(settings.broker_url, _topology(settings), limit))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        typer.echo(f"{r['message_id']}\t{r['reason']}\t{r['detail']}")
    typer.echo(f"{len(rows)} dead letters in {settings.ingest_queue}.dead", err=True)


def register(root: typer.Typer) -> None:
    root.command("worker")(worker)
    root.add_typer(app, name="ingest")

