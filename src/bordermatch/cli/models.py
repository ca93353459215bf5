"""``bordermatch models list|verify``."""

from __future__ import annotations

from pathlib import Path

import typer

from bordermatch.cli._common import EXIT_MODEL, emit_json

app = typer.Typer(no_args_is_help=True, help="Bundled model files: list and verify.")


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every bundled model with its carrier, digest and licence."""
    from bordermatch.models.bundled import BUNDLED

    for m in BUNDLED.values():
        if as_json:
            emit_json({"name": m.name, "kind": m.kind, "package": m.package, "path": m.path,
                       "sha256": m.sha256, "licence": m.licence, "source": m.source})
        else:
            typer.echo(f"{m.name:24} {m.kind:10} {m.package or '-':24} {m.licence}")


@app.command("verify")
def verify_models(
    pack: Path | None = typer.Option(
        None, "--pack", help="Also verify a user-supplied model pack (default: the "
        "BORDERMATCH_MODEL_PACK setting, if set)."),
) -> None:
    """Check the SHA-256 of every bundled model file (and of the prepared ONNX graphs)."""
    from bordermatch.config import Settings
    from bordermatch.errors import BordermatchError, ModelError
    from bordermatch.models.bundled import BUNDLED
    from bordermatch.models.onnx_prep import prepare
    from bordermatch.models.pack import load_pack, verify_pack
    from bordermatch.models.verify import verify_file

    failed = 0
    pack = pack or Settings().model_pack
    if pack is not None:
        try:
            loaded = load_pack(pack)
            for name, ok in verify_pack(loaded).items():
                failed += not ok
                typer.echo(f"{'ok     ' if ok else 'FAILED '} {loaded.name}/{name}")
        except BordermatchError as exc:
            failed += 1
            typer.echo(f"FAILED  pack {pack}: {exc}")
    for m in BUNDLED.values():
        try:
            verify_file(m)
            if m.prepared_sha256:
                prepare(m)
            typer.echo(f"ok      {m.name}")
        except ModelError as exc:
            failed += 1
            typer.echo(f"FAILED  {m.name}: {exc}")
    if failed:
        raise typer.Exit(EXIT_MODEL)
