"""The one reader and validator of a gallery manifest (DESIGN.md, "Gallery directory").

Used by ``gallery build`` (a directory's ``manifest.csv``), the API's manifest upload (CSV
text) and the lane simulator (which writes manifests with :func:`write_manifest`).

One row is one document of a traveller with its photo. Several rows with the same
``traveler_id`` are one traveller with several documents or reference photos; they must
agree on names and ``citizen``. ``(document_number, nationality)`` is unique across the
gallery. A row that breaks a rule goes to the report with a reason and never stops the
others: ``bad_row`` (the row itself is invalid), ``traveler_mismatch`` (disagrees with an
earlier row of the same traveller), ``duplicate_document`` (a document already listed).
Only a file that cannot be read as a manifest at all (not CSV, missing columns, too many
rows) raises :class:`ManifestError`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bordermatch.errors import ManifestError

COLUMNS = ("traveler_id", "given_names", "surname", "document_type", "document_number",
           "nationality", "citizen", "photo")
# Optional: a traveller who declines biometric enrolment (the API enrols them without photo).
OPTIONAL_COLUMNS = ("opt_out",)
# The column widths of the travelers table (store/tables.py): a longer value cannot be stored.
MAX_LEN = {"traveler_id": 64, "given_names": 200, "surname": 200, "document_type": 32,
           "document_number": 64, "nationality": 3, "photo": 1024}
REQUIRED = ("traveler_id", "surname", "document_type", "document_number", "nationality")
# Rows of one traveller must agree on these (the person, not the document).
PERSON_FIELDS = ("given_names", "surname", "citizen")


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One valid row: one document of a traveller, with its photo (relative path)."""

    line: int
    traveler_id: str
    given_names: str
    surname: str
    document_type: str
    document_number: str
    nationality: str  # upper case
    citizen: bool
    photo: str  # relative to the gallery directory, "/"-separated; empty only when opting out
    opt_out: bool = False


@dataclass(frozen=True, slots=True)
class Manifest:
    """The valid rows in file order (all rows of a traveller kept) and the report entries."""

    rows: tuple[ManifestRow, ...]
    report: tuple[dict[str, Any], ...]
    n_rows: int  # data rows in the file, valid or not

    def travellers(self) -> dict[str, list[ManifestRow]]:
        """traveler_id -> that traveller's rows, travellers in order of first appearance."""
        out: dict[str, list[ManifestRow]] = {}
        for row in self.rows:
            out.setdefault(row.traveler_id, []).append(row)
        return out


def entry(line: int, traveler_id: str | None, reason: str, detail: str) -> dict[str, Any]:
    """A report entry (the shape ``gallery build`` and the API both report)."""
    return {"line": line, "traveler_id": traveler_id, "reason": reason, "detail": detail}


def read_manifest(gallery_dir: Path) -> Manifest:
    """Read and validate ``gallery_dir / "manifest.csv"``."""
    path = Path(gallery_dir) / "manifest.csv"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from None
    return parse_manifest(text, str(path))


def parse_manifest(text: str, source: str = "manifest", max_rows: int | None = None
                   ) -> Manifest:
    """Validate manifest CSV text: every row alone, then the rules across rows."""
    rows: list[ManifestRow] = []
    report: list[dict[str, Any]] = []
    n_rows = 0
    try:
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{source}: missing columns {missing}; need {list(COLUMNS)}")
        for record in reader:
            n_rows += 1
            if max_rows is not None and n_rows > max_rows:
                raise ManifestError(f"{source}: more than {max_rows} rows")
            try:
                rows.append(validate_row(reader.line_num, record))
            except ManifestError as exc:
                tid = (record.get("traveler_id") or "").strip() or None
                report.append(entry(reader.line_num, tid, "bad_row", str(exc)))
    except csv.Error as exc:
        raise ManifestError(f"{source}: not valid CSV ({exc})") from None
    kept, cross = _check_across_rows(rows)
    report.extend(cross)
    report.sort(key=lambda e: e["line"])
    return Manifest(tuple(kept), tuple(report), n_rows)


def validate_row(line: int, record: Mapping[str | None, Any]) -> ManifestRow:
    """One row on its own; raises ManifestError with a one-line reason."""
    if record.get(None):  # csv.DictReader puts the surplus fields of a long row under None
        raise ManifestError("more fields than the header")
    get = {k: (record.get(k) or "").strip() for k in COLUMNS + OPTIONAL_COLUMNS}
    for k in REQUIRED:
        if not get[k]:
            raise ManifestError(f"{k} is empty")
    for k, limit in MAX_LEN.items():
        if len(get[k]) > limit:
            raise ManifestError(f"{k} is longer than {limit} characters")
    bad = next((k for k, v in get.items() if any(ord(c) < 32 for c in v)), None)
    if bad:
        raise ManifestError(f"{bad} holds a control character")
    nationality = get["nationality"].upper()
    if not (2 <= len(nationality) <= 3 and nationality.isascii() and nationality.isalpha()):
        raise ManifestError(f"nationality must be a 2-3 letter code, not {get['nationality']!r}")
    citizen = _bool(get["citizen"], "citizen")
    opt_out = _bool(get["opt_out"], "opt_out") if get["opt_out"] else False
    photo = get["photo"].replace("\\", "/")
    if not photo and not opt_out:
        raise ManifestError("photo is empty (only a traveller who opts out has none)")
    parts = PurePosixPath(photo).parts
    if photo and (photo.startswith("/") or ".." in parts or (parts and ":" in parts[0])):
        raise ManifestError("photo path leaves the gallery directory")
    return ManifestRow(line, get["traveler_id"], get["given_names"], get["surname"],
                       get["document_type"], get["document_number"], nationality, citizen,
                       photo, opt_out)


def _bool(value: str, what: str) -> bool:
    v = value.lower()
    if v in ("true", "false"):
        return v == "true"
    raise ManifestError(f"{what} must be true or false, not {value!r}")


def _check_across_rows(rows: list[ManifestRow]
                       ) -> tuple[list[ManifestRow], list[dict[str, Any]]]:
    """Rows of one traveller agree on the person; a document is listed once."""
    first: dict[str, ManifestRow] = {}
    documents: dict[tuple[str, str], ManifestRow] = {}
    kept, report = [], []
    for row in rows:
        ref = first.get(row.traveler_id)
        differ = [f for f in PERSON_FIELDS if ref and getattr(row, f) != getattr(ref, f)]
        if ref and differ:
            report.append(entry(row.line, row.traveler_id, "traveler_mismatch",
                                f"{', '.join(differ)} differ from line {ref.line} of the same "
                                "traveler_id"))
            continue
        doc = (row.document_number, row.nationality)
        if doc in documents:
            other = documents[doc]
            report.append(entry(row.line, row.traveler_id, "duplicate_document",
                                f"document {doc[0]} ({doc[1]}) already on line {other.line} "
                                f"(traveler {other.traveler_id})"))
            continue
        documents[doc] = row
        first.setdefault(row.traveler_id, row)
        kept.append(row)
    return kept, report


def write_manifest(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write a manifest with exactly the DESIGN.md columns (other keys are an error)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)
