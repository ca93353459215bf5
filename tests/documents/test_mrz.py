from __future__ import annotations

from datetime import date

import pytest
from tests.documents.specimens import SPECIMENS, TODAY

from bordermatch.documents import mrz
from bordermatch.documents.countries import is_known_code
from bordermatch.documents.mrz import DocumentType, check_digit, field_at, parse
from bordermatch.errors import DocumentError

ALPHABET = sorted(mrz.ALPHABET)


@pytest.mark.parametrize("name", sorted(SPECIMENS))
def test_every_specimen_validates(name: str) -> None:
    kind, lines = SPECIMENS[name]
    result = parse(lines, today=TODAY)
    assert result.valid, result.errors
    assert result.type is kind
    assert result.fields.surname == "ERIKSSON"
    assert result.fields.given_names == "ANNA MARIA"
    assert result.fields.sex == "F"


def test_specimen_fields() -> None:
    td3 = parse(SPECIMENS["td3"][1], today=TODAY).fields
    assert (td3.document_number, td3.issuing_state, td3.nationality) == ("L898902C3", "UTO", "UTO")
    assert (td3.birth_date, td3.expiry_date) == (date(1974, 8, 12), date(2012, 4, 15))
    assert td3.optional_data == "ZE184226B"
    assert parse(SPECIMENS["td1_long_number"][1], today=TODAY).fields.document_number == (
        "D23145890734")
    visa = parse(SPECIMENS["mrv_a"][1], today=TODAY)
    assert (visa.fields.nationality, visa.fields.birth_date) == ("XXX", date(1940, 9, 7))
    assert visa.expired is True


def test_check_digit_examples() -> None:
    # Part 3, 4.9 worked example, and the specimen's fields.
    assert check_digit("520727") == "3"
    assert check_digit("L898902C3") == "6"
    assert check_digit("<<<<<<") == "0"
    with pytest.raises(DocumentError):
        check_digit("ab")


def _undetectable(kind: DocumentType, field: str, line: str, old: str, new: str,
                  col: int, span_value: str) -> bool:
    """Substitutions that no ICAO 9303 check can catch, so a correct parser accepts them."""
    value_delta = (mrz._VALUE[new] - mrz._VALUE[old]) % 10
    if field == "name":
        return new.isalpha() or new == "<"
    if field == "sex":
        return new in "MFX<"
    if field in ("issuing_state", "nationality"):
        return is_known_code(span_value)
    if field == "document_code":
        return True  # checked below by the type and code the parser reports
    if field == "optional_data" and kind in (DocumentType.MRV_A, DocumentType.MRV_B):
        return True  # a visa's optional data has no check digit
    # Every other position is under a 7-3-1 check digit, which cannot see a change of a
    # multiple of 10 in a character's value (0 / A / K / U, < / A ...).
    return value_delta == 0


def _allowed_fields(name: str, field: str) -> set[str]:
    allowed = {field, "composite"}
    if field in ("birth_date", "expiry_date"):
        allowed |= {"birth_date", "expiry_date"}  # the order of the two dates
    if name == "td1_long_number" and field in ("document_number", "optional_data"):
        allowed |= {"document_number", "optional_data"}
    return allowed


@pytest.mark.parametrize("name", sorted(SPECIMENS))
def test_every_single_character_corruption_is_caught_or_provably_invisible(name: str) -> None:
    kind, lines = SPECIMENS[name]
    layout = mrz.LAYOUTS[kind]
    protected_total = protected_rejected = 0
    for ln, line in enumerate(lines):
        for col, old in enumerate(line):
            field = field_at(kind, ln, col)
            caught_here = 0
            protected = field in layout.digits or field == "composite" or (
                field in ("optional_data", "optional_data_2") and layout.composite_at is not None)
            for new in ALPHABET:
                if new == old:
                    continue
                protected_total += protected
                bad = list(lines)
                bad[ln] = line[:col] + new + line[col + 1:]
                result = parse(bad, today=TODAY)
                named = {e.field for e in result.errors}
                if field == "document_code" and result.type is not kind:
                    assert result.type is not None  # read as the other layout of that size
                    caught_here += 1
                    continue
                if result.valid:
                    span = layout.spans.get(field)
                    span_value = bad[span[0]][span[1]:span[2]] if span else ""
                    assert _undetectable(kind, field, line, old, new, col, span_value), (
                        f"{name} line {ln + 1} col {col + 1} ({field}): {old}->{new} accepted")
                    continue
                assert named <= _allowed_fields(name, field), (
                    f"{name} {ln + 1}:{col + 1} {old}->{new}: {field} but errors name {named}")
                assert named & _allowed_fields(name, field) - {"birth_date", "expiry_date"} or (
                    field in named)
                protected_rejected += protected
                caught_here += 1
            # Every position has some substitution that a reader catches (a digit in a name,
            # an unknown country, a letter in a date...), except a visa's optional data, which
            # Part 7 leaves without any check.
            if not (field == "optional_data" and not protected):
                assert caught_here > 0, f"{name} {ln + 1}:{col + 1} ({field}) never caught"
    # Under a check digit only the 3 or 4 substitutions of 36 that keep the value mod 10 pass.
    assert protected_rejected >= 0.88 * protected_total


@pytest.mark.parametrize(("lines", "field", "code"), [
    (("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "L898902C36UTO7413122F1204159ZE184226B<<<<<10"), "birth_date", "check_digit"),
    (("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "L898902C36UTO7408122Q1204159ZE184226B<<<<<10"), "sex", "sex"),
    (("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "L898902C36ABC7408122F1204159ZE184226B<<<<<10"), "nationality", "country"),
    (("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "L898902C36UTO7408122F1204159ZE184226B<<<<<1"), "format", "layout"),
    (("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "L898902C36UTO7408122F1204159ZE184226B<<<<<11"), "composite", "check_digit"),
    (("P<UTOERIKSS0N<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "L898902C36UTO7408122F1204159ZE184226B<<<<<10"), "name", "name"),
    (("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
      "l898902C36UTO7408122F1204159ZE184226B<<<<<10"), "document_number", "charset"),
])
def test_errors_name_the_field_and_the_reason(lines, field: str, code: str) -> None:
    result = parse(lines, today=TODAY)
    assert not result.valid
    assert (field, code) in {(e.field, e.code) for e in result.errors}
    assert all(e.detail for e in result.errors)
    as_json = result.to_dict()
    assert as_json["valid"] is False
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in as_json["errors"]]


def test_calendar_dates_are_checked() -> None:
    lines = mrz.compose(DocumentType.TD3, document_code="P", issuing_state="UTO",
                        surname="ERIKSSON", given_names="ANNA", document_number="L898902C3",
                        nationality="UTO", birth_date=date(1974, 8, 12), sex="F",
                        expiry_date=date(2030, 4, 15))
    # 30 February, with every check digit recomputed so only the date itself is wrong.
    body = lines[1][:13] + "740230" + check_digit("740230") + lines[1][20:43]
    data = body[0:10] + body[13:20] + body[21:43]
    result = parse((lines[0], body + check_digit(data)), today=TODAY)
    assert [(e.field, e.code) for e in result.errors] == [("birth_date", "date")]


def test_two_digit_years() -> None:
    assert mrz.resolve_birth(26, 11, 30, TODAY) == date(2026, 11, 30)
    assert mrz.resolve_birth(26, 12, 2, TODAY) == date(1926, 12, 2)  # not yet born in 2026
    assert mrz.resolve_birth(0, 1, 1, TODAY) == date(2000, 1, 1)
    assert mrz.resolve_expiry(36, 1, 1, TODAY) == date(2036, 1, 1)
    assert mrz.resolve_expiry(75, 12, 31, TODAY) == date(2075, 12, 31)
    assert mrz.resolve_expiry(76, 1, 1, TODAY) == date(1976, 1, 1)


def test_special_country_codes() -> None:
    for code in ("D<<", "GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA", "UNK", "XXA", "XXB",
                 "XXC", "XXX", "EUE", "XOM", "XPO", "XCC", "XES", "XBA", "XIM", "RKS", "DEU"):
        assert is_known_code(code), code
    for code in ("D", "ABC", "UK<", "EU<"):
        assert not is_known_code(code), code
    lines = mrz.compose(DocumentType.TD1, document_code="ID", issuing_state="D",
                        surname="MUSTERMANN", given_names="ERIKA", document_number="T22000129",
                        nationality="D", birth_date=date(1964, 8, 12), sex="F",
                        expiry_date=date(2031, 10, 31))
    result = parse(lines, today=TODAY)
    assert result.valid, result.errors
    assert (result.fields.issuing_state, result.fields.nationality) == ("D", "D")


def test_unknown_birth_date_and_unspecified_sex() -> None:
    lines = mrz.compose(DocumentType.TD3, document_code="P", issuing_state="XXA",
                        surname="DOE", given_names="", document_number="X1", nationality="XXA",
                        birth_date=None, sex="<", expiry_date=date(2030, 1, 1))
    result = parse(lines, today=TODAY)
    assert result.valid, result.errors
    assert result.fields.birth_date is None and result.fields.sex == "X"
    assert result.fields.surname == "DOE" and result.fields.given_names == ""


def test_layout_errors() -> None:
    assert parse([], today=TODAY).errors[0].field == "format"
    assert not parse(["X" * 30, "X" * 30], today=TODAY).valid
    # A passport code on a 2x36 line pair is not a TD2 code.
    result = parse(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                    "D231458907UTO7408122F1204159<<<<<<<6"], today=TODAY)
    assert ("document_code", "document_code") in {(e.field, e.code) for e in result.errors}


def test_compose_refuses_what_does_not_fit() -> None:
    with pytest.raises(DocumentError):
        mrz.compose(DocumentType.TD3, document_code="P", issuing_state="UTO", surname="X",
                    given_names="Y", document_number="1234567890", nationality="UTO",
                    birth_date=None, sex="F", expiry_date=None)
    with pytest.raises(DocumentError):
        mrz.compose(DocumentType.TD2, document_code="I", issuing_state="UTO", surname="A" * 40,
                    given_names="", document_number="1", nationality="UTO",
                    birth_date=None, sex="F", expiry_date=None)
