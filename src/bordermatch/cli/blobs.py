"""Blob store key management: ``blobs keygen``, ``blobs status``, ``blobs rotate``.

The keyring comes from ``BORDERMATCH_BLOB_KEYS`` and the directory from
``BORDERMATCH_BLOB_DIR`` (or ``--dir``), as for the service. The rotation procedure these
commands carry out is in docs/keys.md.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bordermatch.errors import BordermatchError

app = typer.Typer(no_args_is_help=True, help="Encrypted blob store: keys and rotation.")

BlobDir = typer.Option(Path("blobs"), "--dir", envvar="BORDERMATCH_BLOB_DIR",
                       help="Blob store directory (as the service's blob_dir).")


def _store(blob_dir: Path):
    from bordermatch.store.blobs import BlobStore, KeyRing

    try:
        if not blob_dir.is_dir():
            raise typer.BadParameter(f"{blob_dir} is not a directory", param_hint="--dir")
        return BlobStore(blob_dir, KeyRing.from_env())
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("keygen")
def keygen(kid: str = typer.Argument(..., help="Key id, e.g. the month: 2026-11")) -> None:
    """Print a new ``kid:base64key`` entry for BORDERMATCH_BLOB_KEYS (keep it secret)."""
    from bordermatch.store.blobs import KeyRing

    try:
        key = KeyRing.generate_key()
        KeyRing({kid: key}, kid)  # validates the key id
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(KeyRing.encode_entry(kid, key))


@app.command("status")
def status(blob_dir: Path = BlobDir) -> None:
    """How many blobs each key id encrypts; a key with none can be retired."""
    store = _store(blob_dir)
    counts = store.count_by_key()
    typer.echo(f"active key: {store.keyring.active}; keyring: {', '.join(store.keyring.kids)}")
    for kid in sorted(counts):
        typer.echo(f"{kid}: {counts[kid]} blobs")
    missing = sorted(set(counts) - set(store.keyring.kids))
    if missing:
        typer.echo(f"error: blobs under keys missing from the keyring: {', '.join(missing)}",
                   err=True)
        raise typer.Exit(1)


@app.command("rotate")
def rotate(kid: str = typer.Argument(..., help="The key to make active and re-encrypt under"),
           blob_dir: Path = BlobDir) -> None:
    """Re-encrypt every blob under KID (safe to re-run; see docs/keys.md first)."""
    store = _store(blob_dir)
    try:
        done = store.rotate(kid)
    except BordermatchError as exc:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
        raise typer.Exit(2) from None
    left = {k: n for k, n in store.count_by_key().items() if k != kid}
    typer.echo(f"re-encrypted {done} blobs under {kid}; still under other keys: {left or 0}")
