"""The one manifest reader (gallery.manifest): row rules, cross-row rules, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bordermatch.errors import ManifestError
from bordermatch.gallery.manifest import (
    COLUMNS,
    parse_manifest,
    read_manifest,
    validate_row,
    write_manifest,
)

HEADER = ",".join(COLUMNS) + "\n"


def _row(tid="T1", given="Ann", surname="Lee", doc="P1", nat="usa", citizen="true",
         photo="photos/a.jpg", doc_type="P") -> str:
    return f"{tid},{given},{surname},{doc_type},{doc},{nat},{citizen},{photo}\n"


def test_a_valid_row_is_normalised():
    m = parse_manifest(HEADER + _row())
    (row,) = m.rows
    assert (row.line, row.traveler_id, row.nationality, row.citizen, row.photo) == (
        2, "T1", "USA", True, "photos/a.jpg")
    assert m.report == () and m.n_rows == 1


@pytest.mark.parametrize("line, detail", [
    (_row(tid=""), "traveler_id is empty"),
    (_row(surname=""), "surname is empty"),
    (_row(doc=""), "document_number is empty"),
    (_row(citizen="yes"), "citizen must be true or false"),
    (_row(nat="U5A"), "nationality must be"),
    (_row(photo=""), "photo is empty"),
    (_row(photo="../outside.jpg"), "leaves the gallery directory"),
    (_row(photo="/etc/passwd"), "leaves the gallery directory"),
    (_row(given="G" * 201), "given_names is longer than 200"),
    (_row(doc="9" * 65), "document_number is longer than 64"),
    (_row().rstrip("\n") + ",surplus\n", "more fields than the header"),
])
def test_an_invalid_row_goes_to_the_report(line, detail):
    m = parse_manifest(HEADER + _row(tid="T0", doc="P0") + line)
    assert [r.traveler_id for r in m.rows] == ["T0"]
    (e,) = m.report
    assert e["line"] == 3 and e["reason"] == "bad_row" and detail in e["detail"]


def test_rows_of_one_traveller_are_kept_and_must_agree_on_the_person():
    text = (HEADER + _row(doc="P1") + _row(doc="V9", doc_type="V", photo="photos/b.jpg")
            + _row(doc="P2", surname="Li") + _row(tid="T2", doc="P3", citizen="false")
            + _row(doc="P4", citizen="false"))
    m = parse_manifest(text)
    assert [(r.traveler_id, r.document_number) for r in m.rows] == [
        ("T1", "P1"), ("T1", "V9"), ("T2", "P3")]
    assert m.travellers() == {"T1": list(m.rows[:2]), "T2": [m.rows[2]]}
    assert [(e["line"], e["reason"]) for e in m.report] == [(4, "traveler_mismatch"),
                                                          (6, "traveler_mismatch")]
    assert "surname" in m.report[0]["detail"] and "citizen" in m.report[1]["detail"]


def test_a_document_is_unique_across_the_gallery():
    m = parse_manifest(HEADER + _row(doc="P1") + _row(tid="T2", doc="P1")
                       + _row(tid="T3", doc="P1", nat="CAN"))
    assert [r.traveler_id for r in m.rows] == ["T1", "T3"]  # same number, other country
    (e,) = m.report
    assert e["reason"] == "duplicate_document" and "line 2" in e["detail"]


def test_whole_file_problems_raise(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("traveler_id,photo\nT1,a.jpg\n")
    with pytest.raises(ManifestError, match="missing columns"):
        read_manifest(tmp_path)
    with pytest.raises(ManifestError, match="more than 1 rows"):
        parse_manifest(HEADER + _row() + _row(tid="T2", doc="P2"), max_rows=1)


def test_opt_out_needs_no_photo():
    header = HEADER.rstrip("\n") + ",opt_out\n"
    m = parse_manifest(header + _row(photo="").rstrip("\n") + ",true\n")
    assert m.rows[0].opt_out and m.rows[0].photo == ""


def test_write_then_read_round_trip(tmp_path):
    rows = [{"traveler_id": "T1", "given_names": "Ann, Marie", "surname": "O'Neil",
             "document_type": "P", "document_number": "X1", "nationality": "IRL",
             "citizen": "false", "photo": "photos/t1.jpg"}]
    write_manifest(tmp_path / "manifest.csv", rows)
    (row,) = read_manifest(tmp_path).rows
    assert (row.given_names, row.surname, row.citizen) == ("Ann, Marie", "O'Neil", False)
    with pytest.raises(ValueError):
        write_manifest(tmp_path / "m2.csv", [{**rows[0], "extra": "x"}])


@given(st.dictionaries(st.sampled_from((*COLUMNS, "opt_out")), st.text(max_size=80)))
def test_the_validator_accepts_or_says_why(record):
    try:
        row = validate_row(2, record)
    except ManifestError as exc:
        assert "\n" not in str(exc)
    else:
        assert row.traveler_id and row.surname and 2 <= len(row.nationality) <= 3
