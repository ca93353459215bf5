"""``bordermatch index``: the shared 1:N index (docs/scale.md, "Shared 1:N index")."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from bordermatch.cli.service import DbUrl, _sessions, _settings

app = typer.Typer(no_args_is_help=True,
                  help="The shared 1:N index (Milvus): serve one on this host, apply the "
                       "outbox.")


@app.command("serve")
def serve(db: Path = typer.Option(..., "--db", help="Milvus Lite data directory (created "
                                  "if absent; one server per directory)."),
          host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
          port: int = typer.Option(19530, "--port", min=0, max=65535,
                                   help="TCP port (0: any free one)."),
          workers: int = typer.Option(8, "--workers", min=1, max=256,
                                      help="Requests served at once (writes take turns).")
          ) -> None:
    """Run Milvus Lite for every server and worker of this host: set their index_uri to
    http://HOST:PORT. Many hosts need a Milvus server or cluster instead."""
    from bordermatch.index.milvus_serve import start

    try:
        server, store, bound = start(db, host, port, workers)
    except Exception as exc:  # a locked directory or a taken port: one line, not a trace
        typer.echo(f"error: cannot serve {db} on {host}:{port}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"serving Milvus Lite {db} on http://{host}:{bound}", err=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(grace=5)
        store.close()


def _shared(database_url: str | None):
    """The configured shared index, or one line and exit 2 when there is none."""
    from bordermatch.service.shared_index import SHARED_BACKENDS, SharedIndexes
    from bordermatch.store.blobs import BlobStore, KeyRing
    from bordermatch.store.clock import SystemClock

    settings = _settings(database_url)
    if settings.index_backend not in SHARED_BACKENDS:
        typer.echo(f"error: index_backend {settings.index_backend!r} is in-process; nothing "
                   "to sync", err=True)
        raise typer.Exit(2)
    ring = (KeyRing.from_spec(settings.blob_keys.get_secret_value()) if settings.blob_keys
            else KeyRing.from_env())
    token = settings.index_token.get_secret_value() if settings.index_token else None
    shared = SharedIndexes(_sessions(database_url), BlobStore(settings.blob_dir, ring),
                           SystemClock(), uri=settings.index_uri, token=token,
                           index_type=settings.index_type)
    return settings, shared


@app.command("rebuild")
def rebuild(gallery: list[str] = typer.Option(..., "--gallery",
                                              help="Gallery id (repeat for several)."),
            database_url: str | None = DbUrl) -> None:
    """Refill galleries' shared collections from the database: after a Milvus server lost
    its data, or when a collection holds what the records do not."""
    from bordermatch.errors import BordermatchError
    from bordermatch.match.fusion import load_matcher
    from bordermatch.store import repo

    try:
        settings, shared = _shared(database_url)
        model = load_matcher(settings.matcher).first_models[0]
        with shared.sessions() as s:
            for g in gallery:
                repo.get_gallery(s, g)  # an unknown id: one line, before anything changes
        for g in gallery:
            n = shared.rebuild(g, model)
            index = shared.existing(g, model)
            typer.echo(f"gallery {g}: {n} templates queued, collection holds "
                       f"{0 if index is None else len(index)}")
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("sync")
def sync(database_url: str | None = DbUrl,
         watch: float = typer.Option(0.0, "--watch", min=0.0,
                                     help="Apply again every this many seconds (0: once).")
         ) -> None:
    """Apply the outbox's pending enrolments and purges to the shared index."""
    from bordermatch.errors import BordermatchError

    try:
        _, shared = _shared(database_url)
        while True:
            typer.echo(f"applied {shared.sync()} outbox rows")
            if not watch:
                break
            time.sleep(watch)
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
