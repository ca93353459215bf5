"""``bordermatch document ...``: read a travel document's MRZ (typed or from a photo).

Exit codes: 0 the document is valid, 1 it is not (the output says which field failed and
why), 2 the input could not be used at all (unreadable file, no MRZ found).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bordermatch.cli._common import emit_json, fail
from bordermatch.errors import BordermatchError

app = typer.Typer(no_args_is_help=True, help="Travel documents: MRZ, data-page OCR, chip.")

JsonFlag = typer.Option(False, "--json", help="Print one JSON object.")


def _print_mrz(result: Any) -> None:
    typer.echo(f"type: {result.type.value if result.type else 'unknown'}")
    if result.fields is not None:
        for key, value in result.fields.to_dict().items():
            typer.echo(f"  {key}: {value if value not in (None, '') else '-'}")
    if result.expired is not None:
        typer.echo(f"  expired: {'yes' if result.expired else 'no'}")
    typer.echo("checks:")
    for check in result.checks:
        typer.echo(f"  [{'ok' if check.ok else 'FAIL'}] {check.field} {check.code}: "
                   f"{check.detail}")
    typer.echo(f"valid: {'yes' if result.valid else 'no'}")


@app.command("mrz")
def mrz_command(
    lines: list[str] = typer.Argument(..., help="The MRZ lines: 3 for TD1, 2 otherwise."),
    as_json: bool = JsonFlag,
) -> None:
    """Parse and validate an MRZ; print its fields and the result of every check."""
    from bordermatch.documents.mrz import parse

    result = parse(lines)
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_mrz(result)
    raise typer.Exit(0 if result.valid else 1)


@app.command("ocr")
def ocr_command(
    image: Path = typer.Argument(..., help="Photo or scan of the data page."),
    engine: str = typer.Option("auto", help="auto, ocrb (template reader) or tesseract."),
    as_json: bool = JsonFlag,
) -> None:
    """Read the MRZ from a data-page image, correct OCR confusions, validate it."""
    from bordermatch.documents.ocr import make_recognizer, read_mrz
    from bordermatch.io.images import load_image

    try:
        name, recognizer = make_recognizer(engine)
        result = read_mrz(load_image(image), recognizer)
    except BordermatchError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result.to_dict() | {"engine": name})
    else:
        typer.echo(f"engine: {name}")
        for i, (read, fixed) in enumerate(zip(result.lines_read, result.lines, strict=True)):
            typer.echo(f"line {i + 1} read: {read}" + (f"\n       now:  {fixed}"
                                                        if read != fixed else ""))
        for c in result.corrections:
            typer.echo(f"  corrected line {c.line + 1} position {c.column + 1}: "
                       f"{c.read} -> {c.corrected} ({c.reason})")
        _print_mrz(result.mrz)
    raise typer.Exit(0 if result.mrz.valid else 1)
