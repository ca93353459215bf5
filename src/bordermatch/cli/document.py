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
        for ln, col in result.uncertain:
            typer.echo(f"  uncertain, no check covers it: line {ln + 1} position {col + 1} "
                       f"{result.lines[ln][col]!r}")
        _print_mrz(result.mrz)
    raise typer.Exit(0 if result.mrz.valid else 1)


trust_app = typer.Typer(no_args_is_help=True, help="Trusted CSCA certificates.")
app.add_typer(trust_app, name="trust")
TrustDir = typer.Option(Path("trust"), "--store", envvar="BORDERMATCH_TRUST_DIR",
                        help="Trust store directory (one DER file per CSCA certificate).")


def _trust_store(directory: Path | None):
    from bordermatch.documents.passive_auth import TrustStore
    from bordermatch.documents.trust import load_trust_dir

    if directory is None:
        return TrustStore()
    if not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory", param_hint="--trust")
    return load_trust_dir(directory)


@trust_app.command("add")
def trust_add(file: Path = typer.Argument(..., help="CSCA certificate (PEM or DER) or an "
                                          "ICAO CSCA master list."),
              store: Path = TrustDir, as_json: bool = JsonFlag) -> None:
    """Add CSCA certificates to the trust store; their validity is checked at each use."""
    import hashlib
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.serialization import Encoding

    from bordermatch.documents.passive_auth import load_certificates

    try:
        if not file.is_file():
            raise typer.BadParameter(f"{file}: no such file", param_hint="FILE")
        certs = load_certificates(file.read_bytes())
    except BordermatchError as exc:
        fail(exc, as_json)
    store.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    added: list[dict[str, Any]] = []
    for cert in certs:
        der = cert.public_bytes(Encoding.DER)
        (store / f"{hashlib.sha256(der).hexdigest()[:20]}.der").write_bytes(der)
        current = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
        added.append({"subject": cert.subject.rfc4514_string(),
                      "not_before": cert.not_valid_before_utc.isoformat(),
                      "not_after": cert.not_valid_after_utc.isoformat(), "current": current})
    if as_json:
        emit_json({"store": str(store), "added": added})
        return
    for a in added:
        typer.echo(f"added {a['subject']} (valid {a['not_before'][:10]} to {a['not_after'][:10]}"
                   f"{'' if a['current'] else ', NOT valid now'})")


def _chip_files(directory: Path) -> dict[str | int, bytes]:
    from bordermatch.documents.chip import file_key

    if not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory", param_hint="DIR")
    files: dict[str | int, bytes] = {}
    for path in sorted(directory.iterdir()):
        key = file_key(path.name)
        if key is not None and path.is_file():
            files[key] = path.read_bytes()
    return files


@app.command("chip")
def chip_command(
    directory: Path = typer.Argument(..., help="Folder of LDS files: EF.COM, EF.SOD, DG1, DG2..."),
    trust: Path | None = typer.Option(None, "--trust", envvar="BORDERMATCH_TRUST_DIR",
                                      help="Trust store directory (see document trust add)."),
    face_out: Path | None = typer.Option(None, "--face-out", help="Write DG2's first image."),
    as_json: bool = JsonFlag,
) -> None:
    """Read a chip dump: DG1's MRZ, DG2's face, and passive authentication of EF.SOD."""
    from bordermatch.documents.chip import read_chip

    try:
        result = read_chip(_chip_files(directory), _trust_store(trust))
    except BordermatchError as exc:
        fail(exc, as_json)
    if face_out is not None and result.faces:
        face_out.write_bytes(result.faces[0].data)
    if as_json:
        emit_json(result.to_dict())
    else:
        pa = result.passive_auth
        typer.echo(f"passive authentication: {pa.status}")
        for line in pa.details:
            typer.echo(f"  {line}")
        for face in result.faces:
            typer.echo(f"face: {face.format} {face.image_format} {face.width}x{face.height}, "
                       f"{len(face.data)} bytes")
        if result.face_error:
            typer.echo(f"face does not decode: {result.face_error}")
        typer.echo("DG1 MRZ:")
        _print_mrz(result.mrz)
        typer.echo(f"chip valid: {'yes' if result.valid else 'no'}")
    raise typer.Exit(0 if result.valid else 1)
