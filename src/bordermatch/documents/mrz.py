"""ICAO Doc 9303 machine-readable zones: parse, validate and compose TD1, TD2, TD3, MRV-A, MRV-B.

Pure functions over strings. :func:`parse` never raises for a bad MRZ: it returns an
:class:`MrzResult` whose ``checks`` say, field by field, what passed and what failed and why.
:func:`compose` is its inverse (used to write DG1 and test documents) and raises
:class:`~bordermatch.errors.DocumentError` for values that do not fit the layout.

Two-digit years (Part 3, 4.2.2 leaves the century to the reader):

* **birth**: the most recent year not after ``today`` (``740812`` read in 2026 is 1974-08-12,
  ``200101`` is 2020-01-01, ``301231`` is 1930-12-31);
* **expiry**: the one year in ``[today.year - 50, today.year + 49]``, so that a document that
  expired long ago and one valid for the next decades both resolve. An expired document still
  has a valid MRZ; ``MrzResult.expired`` says so separately.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum

from bordermatch.documents.countries import is_known_code
from bordermatch.errors import DocumentError

ALPHABET = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")} | {"<": 0}
_WEIGHTS = (7, 3, 1)


def char_value(c: str) -> int:
    """Part 3, 4.9: digits are their value, A-Z are 10-35, the filler is 0."""
    try:
        return _VALUE[c]
    except KeyError:
        raise DocumentError(f"{c!r} is not an MRZ character (A-Z, 0-9, <)") from None


def check_digit(data: str) -> str:
    """The 7-3-1 weighted modulus-10 check digit of ``data`` (Part 3, 4.9)."""
    return str(sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data)) % 10)


class DocumentType(StrEnum):
    TD1 = "TD1"
    TD2 = "TD2"
    TD3 = "TD3"
    MRV_A = "MRV-A"
    MRV_B = "MRV-B"


Span = tuple[int, int, int]  # line, start, stop (0-based, stop exclusive)


@dataclass(frozen=True, slots=True)
class _Layout:
    shape: tuple[int, ...]
    spans: dict[str, Span]
    digits: dict[str, tuple[int, int]]  # field -> (line, column) of its check digit
    composite: tuple[Span, ...] = ()
    composite_at: tuple[int, int] | None = None
    first_letters: str = ""  # allowed first character of the document code


_TD3_LIKE = {"document_code": (0, 0, 2), "issuing_state": (0, 2, 5), "document_number": (1, 0, 9),
             "nationality": (1, 10, 13), "birth_date": (1, 13, 19), "sex": (1, 20, 21),
             "expiry_date": (1, 21, 27)}
_DIGITS = {"document_number": (1, 9), "birth_date": (1, 19), "expiry_date": (1, 27)}

LAYOUTS: dict[DocumentType, _Layout] = {
    DocumentType.TD3: _Layout(
        (44, 44), _TD3_LIKE | {"name": (0, 5, 44), "optional_data": (1, 28, 42)},
        _DIGITS | {"optional_data": (1, 42)}, ((1, 0, 10), (1, 13, 20), (1, 21, 43)), (1, 43), "P"),
    DocumentType.TD2: _Layout(
        (36, 36), _TD3_LIKE | {"name": (0, 5, 36), "optional_data": (1, 28, 35)},
        _DIGITS, ((1, 0, 10), (1, 13, 20), (1, 21, 35)), (1, 35), "ACI"),
    DocumentType.TD1: _Layout(
        (30, 30, 30),
        {"document_code": (0, 0, 2), "issuing_state": (0, 2, 5), "document_number": (0, 5, 14),
         "optional_data": (0, 15, 30), "birth_date": (1, 0, 6), "sex": (1, 7, 8),
         "expiry_date": (1, 8, 14), "nationality": (1, 15, 18), "optional_data_2": (1, 18, 29),
         "name": (2, 0, 30)},
        {"document_number": (0, 14), "birth_date": (1, 6), "expiry_date": (1, 14)},
        ((0, 5, 30), (1, 0, 7), (1, 8, 15), (1, 18, 29)), (1, 29), "ACI"),
    DocumentType.MRV_A: _Layout(
        (44, 44), _TD3_LIKE | {"name": (0, 5, 44), "optional_data": (1, 28, 44)}, _DIGITS,
        first_letters="V"),
    DocumentType.MRV_B: _Layout(
        (36, 36), _TD3_LIKE | {"name": (0, 5, 36), "optional_data": (1, 28, 36)}, _DIGITS,
        first_letters="V"),
}


def detect_type(lines: tuple[str, ...]) -> DocumentType | None:
    """The layout that the line count and lengths (and, for 2x44 / 2x36, the code) imply."""
    shape = tuple(len(line) for line in lines)
    visa = bool(lines) and lines[0][:1] == "V"
    fits = [kind for kind, layout in LAYOUTS.items() if layout.shape == shape]
    if len(fits) == 2:  # 2x44 and 2x36 are each shared by a document and a visa layout
        fits = [kind for kind in fits if visa == (LAYOUTS[kind].first_letters == "V")]
    return fits[0] if fits else None


def field_at(kind: DocumentType, line: int, column: int) -> str:
    """The field that owns a character position; check digits belong to their field."""
    layout = LAYOUTS[kind]
    for name, (ln, start, stop) in layout.spans.items():
        if ln == line and start <= column < stop:
            return name
    for name, pos in layout.digits.items():
        if pos == (line, column):
            return name
    if layout.composite_at == (line, column):
        return "composite"
    raise DocumentError(f"{kind.value} has no position line {line + 1} column {column + 1}")


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome. ``code`` is stable (``check_digit``, ``charset``, ``date``...)."""

    field: str
    code: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MrzFields:
    document_code: str  # fillers stripped: "P", "PO", "I", "V"
    issuing_state: str  # fillers stripped: "UTO", "D"
    surname: str
    given_names: str  # components separated by spaces
    document_number: str
    nationality: str
    birth_date: date | None  # None when unknown (all fillers) or unreadable
    sex: str  # "M", "F" or "X" (the filler means unspecified and reads as X)
    expiry_date: date | None
    optional_data: str
    optional_data_2: str = ""  # TD1 line 2 only

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        for key in ("birth_date", "expiry_date"):
            d[key] = d[key].isoformat() if d[key] else None
        return d


@dataclass(frozen=True, slots=True)
class MrzResult:
    type: DocumentType | None
    lines: tuple[str, ...]
    fields: MrzFields | None
    checks: tuple[Check, ...]
    expired: bool | None = None

    @property
    def errors(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def valid(self) -> bool:
        return self.fields is not None and not self.errors

    def to_dict(self) -> dict[str, object]:
        return {"valid": self.valid, "type": self.type.value if self.type else None,
                "fields": self.fields.to_dict() if self.fields else None,
                "expired": self.expired, "lines": list(self.lines),
                "checks": [c.to_dict() for c in self.checks],
                "errors": [{"field": c.field, "code": c.code, "detail": c.detail}
                           for c in self.errors]}


def resolve_birth(yy: int, month: int, day: int, today: date) -> date:
    recent = (2000 + yy, month, day) <= (today.year, today.month, today.day)
    return date(2000 + yy if recent else 1900 + yy, month, day)


def resolve_expiry(yy: int, month: int, day: int, today: date) -> date:
    base = today.year - 50
    return date(base + (yy - base) % 100, month, day)


_NAME_SHAPE = re.compile(r"[A-Z][A-Z<]*")


def parse(lines: list[str] | tuple[str, ...], *, today: date | None = None) -> MrzResult:
    """Parse and validate an MRZ given as its lines (surrounding whitespace is ignored)."""
    today = today or date.today()
    text = tuple(line.strip() for line in lines)
    kind = detect_type(text)
    if kind is None:
        shape = " and ".join(str(len(t)) for t in text) or "none"
        return MrzResult(None, text, None, (Check(
            "format", "layout", False,
            f"expected 3 lines of 30, 2 of 36 or 2 of 44 characters; got {len(text)} line(s) "
            f"of {shape}"),))
    layout = LAYOUTS[kind]
    checks: list[Check] = []
    bad: set[str] = set()
    for ln, line in enumerate(text):
        for col, ch in enumerate(line):
            if ch not in ALPHABET:
                name = field_at(kind, ln, col)
                bad.add(name)
                checks.append(Check(name, "charset", False, f"line {ln + 1} position {col + 1}: "
                                    f"{ch!r} is not A-Z, 0-9 or <"))

    def raw(name: str) -> str:
        ln, start, stop = layout.spans[name]
        return text[ln][start:stop]

    def digit(name: str) -> str:
        ln, col = layout.digits[name]
        return text[ln][col]

    def add(name: str, code: str, ok: bool, detail: str) -> None:
        checks.append(Check(name, code, ok, detail))

    def check_digit_of(name: str, data: str, found: str, *, filler_ok: bool = False) -> None:
        if name in bad:
            return
        expected = check_digit(data)
        if filler_ok and set(data) <= {"<"} and found in "<0":
            add(name, "check_digit", True, "field unused; check digit is a filler or 0")
            return
        add(name, "check_digit", found == expected,
            f"check digit over {data!r} is {expected}, found {found!r}")

    code = raw("document_code")
    if "document_code" not in bad:
        ok = code[0] in layout.first_letters and (code[1] == "<" or code[1].isalpha())
        add("document_code", "document_code", ok,
            f"{code!r}: a {kind.value} code starts with {' or '.join(layout.first_letters)}"
            " and its second character is a letter or <")
    for name in ("issuing_state", "nationality"):
        if name not in bad:
            value = raw(name)
            add(name, "country", is_known_code(value),
                f"{value!r} is {'' if is_known_code(value) else 'not '}an ISO 3166-1 alpha-3 "
                "or ICAO 9303 code")

    name_field = raw("name")
    surname, given = _split_name(name_field)
    if "name" not in bad:
        body = name_field.rstrip("<")
        if not _NAME_SHAPE.fullmatch(body):
            why = "must start with a letter and hold only letters and <"
        elif "<<<" in body or body.count("<<") > 1:
            why = "only one << (between primary and secondary identifier) and single < between"
        else:
            why = ""
        add("name", "name", not why, f"{body!r}: {why or 'well formed'}")

    number, number_digit, optional = raw("document_number"), digit("document_number"), None
    if kind in (DocumentType.TD1, DocumentType.TD2) and number_digit == "<":
        # Part 5 / Part 6 note: a number longer than 9 characters continues in the optional
        # data field and its check digit follows it there, before a filler.
        opt = raw("optional_data")
        end = opt.find("<") if "<" in opt else len(opt)
        if end >= 2:
            number, number_digit, optional = number + opt[:end - 1], opt[end - 1], opt[end + 1:]
    if "document_number" not in bad:
        add("document_number", "present", number.strip("<") != "",
            f"document number {number!r}")
        check_digit_of("document_number", number, number_digit)

    dates: dict[str, date | None] = {}
    for name, resolve in (("birth_date", resolve_birth), ("expiry_date", resolve_expiry)):
        value = raw(name)
        dates[name] = None
        if name in bad:
            continue
        check_digit_of(name, value, digit(name), filler_ok=True)
        if value == "<<<<<<":
            add(name, "date", True, "unknown (fillers)")
            continue
        try:
            if not value.isdigit():
                raise ValueError(f"{value!r} is not YYMMDD digits")
            dates[name] = when = resolve(int(value[:2]), int(value[2:4]), int(value[4:]), today)
            add(name, "date", True, f"{value} -> {when.isoformat()}")
        except ValueError as exc:
            add(name, "date", False, f"{value!r}: {exc}")
    birth, expiry = dates["birth_date"], dates["expiry_date"]
    if birth and expiry:
        add("expiry_date", "date_order", birth < expiry,
            f"expiry {expiry.isoformat()} must follow birth {birth.isoformat()}")

    sex = raw("sex")
    if "sex" not in bad:
        add("sex", "sex", sex in ("M", "F", "X", "<"), f"{sex!r} is one of M, F, X, <")

    if "optional_data" in layout.digits and "optional_data" not in bad:
        check_digit_of("optional_data", raw("optional_data"), digit("optional_data"),
                       filler_ok=True)
    if layout.composite_at is not None:
        data = "".join(text[ln][a:b] for ln, a, b in layout.composite)
        ln, col = layout.composite_at
        if set(data) <= ALPHABET and text[ln][col] in ALPHABET:
            check_digit_of("composite", data, text[ln][col])

    fields = MrzFields(
        document_code=code.strip("<"), issuing_state=raw("issuing_state").strip("<"),
        surname=surname, given_names=given, document_number=number.strip("<"),
        nationality=raw("nationality").strip("<"), birth_date=birth,
        sex="X" if sex == "<" else sex, expiry_date=expiry,
        optional_data=(raw("optional_data") if optional is None else optional).strip("<"),
        optional_data_2=raw("optional_data_2").strip("<") if kind is DocumentType.TD1 else "")
    return MrzResult(kind, text, fields, tuple(checks),
                     expired=None if expiry is None else expiry < today)


def _split_name(field: str) -> tuple[str, str]:
    primary, _, secondary = field.rstrip("<").partition("<<")
    return primary.replace("<", " "), secondary.replace("<", " ").strip()


def _mrz_text(value: str, width: int, field: str) -> str:
    text = re.sub(r"[ \-]", "<", value.upper())
    if len(text) > width or not set(text) <= ALPHABET:
        raise DocumentError(f"{field} {value!r} does not fit {width} MRZ characters (A-Z 0-9 <)")
    return text.ljust(width, "<")


def _yymmdd(value: date | None) -> str:
    return "<<<<<<" if value is None else value.strftime("%y%m%d")


def compose(kind: DocumentType, *, document_code: str, issuing_state: str, surname: str,
            given_names: str, document_number: str, nationality: str, birth_date: date | None,
            sex: str, expiry_date: date | None, optional_data: str = "",
            optional_data_2: str = "") -> tuple[str, ...]:
    """Write the MRZ lines of a document, computing every check digit.

    Names must already be transliterated (Part 3, 6) and short enough: truncation is the
    issuer's decision, so a name that does not fit raises rather than being cut here.
    """
    layout = LAYOUTS[kind]
    rows = [["<"] * n for n in layout.shape]

    def put(name: str, value: str) -> None:
        ln, start, stop = layout.spans[name]
        rows[ln][start:stop] = _mrz_text(value, stop - start, name)

    def put_digit(name: str, data: str) -> None:
        ln, col = layout.digits[name]
        rows[ln][col] = check_digit(data)

    put("document_code", document_code)
    put("issuing_state", issuing_state)
    name_width = layout.spans["name"][2] - layout.spans["name"][1]
    name = _mrz_text(surname, name_width, "surname").rstrip("<")
    if given_names:
        name += "<<" + _mrz_text(given_names, name_width, "given_names").rstrip("<")
    put("name", name)
    number = _mrz_text(document_number, len(document_number), "document_number")
    if len(number) > 9:
        if kind not in (DocumentType.TD1, DocumentType.TD2):
            raise DocumentError(f"a {kind.value} document number has at most 9 characters")
        optional_data = number[9:] + check_digit(number) + "<" + optional_data
        number = number[:9]
        rows[layout.digits["document_number"][0]][layout.digits["document_number"][1]] = "<"
        put("document_number", number)
    else:
        put("document_number", number)
        put_digit("document_number", number.ljust(9, "<"))
    put("nationality", nationality)
    put("sex", sex)
    for field, value in (("birth_date", birth_date), ("expiry_date", expiry_date)):
        put(field, _yymmdd(value))
        put_digit(field, _yymmdd(value))
    put("optional_data", optional_data)
    if "optional_data" in layout.digits:
        data = _mrz_text(optional_data, 14, "optional_data")
        if set(data) == {"<"}:
            rows[1][42] = "<"
        else:
            put_digit("optional_data", data)
    if kind is DocumentType.TD1:
        put("optional_data_2", optional_data_2)
    elif optional_data_2:
        raise DocumentError(f"a {kind.value} has no second optional data field")
    if layout.composite_at is not None:
        data = "".join("".join(rows[ln][a:b]) for ln, a, b in layout.composite)
        ln, col = layout.composite_at
        rows[ln][col] = check_digit(data)
    return tuple("".join(r) for r in rows)
