"""MRZ OCR: correction (pure), line fitting, and the whole path on rendered data pages."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from tests.documents.specimens import SPECIMENS, TODAY
from typer.testing import CliRunner

from bordermatch.cli import app
from bordermatch.documents import ocr, synth
from bordermatch.documents.mrz import parse
from bordermatch.errors import DocumentError

FONT = synth.ocr_b_font_path()
needs_font = pytest.mark.skipif(FONT is None, reason="fonts-ocr-b not installed "
                                "(scripts/setup.sh installs it)")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract not installed (scripts/setup.sh)")


def _swap(line: str, col: int, ch: str) -> str:
    return line[:col] + ch + line[col + 1:]


def test_class_forcing_fixes_letters_in_digit_fields_and_back() -> None:
    l1, l2 = SPECIMENS["td3"][1]
    read = (_swap(_swap(l1, 9, "5"), 30, "K"),  # S -> 5 in the name, a filler as K
            _swap(_swap(l2, 15, "O"), 19, "Z"))  # birth date 0 -> O, its check digit 2 -> Z
    fixed, fixes = ocr.correct(read, TODAY)
    assert fixed == SPECIMENS["td3"][1]
    assert {(c.line, c.column, c.reason) for c in fixes} == {
        (0, 9, "class"), (0, 30, "class"), (1, 15, "class"), (1, 19, "class")}


def test_check_digit_guided_fix_in_a_mixed_field() -> None:
    l1, l2 = SPECIMENS["td2"][1]
    read = (l1, _swap(l2, 8, "O"))  # D23145890 read as D2314589O
    assert not parse(read, today=TODAY).valid
    fixed, fixes = ocr.correct(read, TODAY)
    assert fixed == SPECIMENS["td2"][1]
    assert [(c.column, c.read, c.corrected, c.reason) for c in fixes] == [
        (8, "O", "0", "check_digit")]


def test_a_tie_between_two_fixes_is_left_unresolved() -> None:
    l1, l2 = SPECIMENS["td2"][1]
    # DZ314589O: both D231458907 and DZ3145B90 satisfy the check digit (and the composite,
    # which weighs a document number exactly as its own check digit does).
    read = (l1, _swap(_swap(l2, 8, "O"), 1, "Z"))
    fixed, _ = ocr.correct(read, TODAY)
    assert fixed == read and not parse(fixed, today=TODAY).valid


def test_no_fix_is_invented_when_the_check_digit_cannot_tell() -> None:
    l1, l2 = SPECIMENS["td3"][1]
    read = (l1, _swap(l2, 0, "X"))  # X has no confusable partner: nothing to try
    fixed, fixes = ocr.correct(read, TODAY)
    assert fixed[1][0] == "X" and not [c for c in fixes if c.reason == "check_digit"]
    assert not parse(fixed, today=TODAY).valid


def test_fit_lines_repairs_filler_runs_and_drops_other_text() -> None:
    l1, l2 = SPECIMENS["td3"][1]
    text = f"UTOPIA PASSPORT\n{l1[:-3]}\n{l2.replace('<<<<<1', '<<<<<<<1')}\n"
    assert ocr.fit_lines(text) == (l1, l2)
    with pytest.raises(DocumentError):
        ocr.fit_lines("no mrz here")


def test_no_mrz_in_a_blank_image() -> None:
    with pytest.raises(DocumentError):
        ocr.read_mrz(np.full((400, 600, 3), 235, np.uint8), lambda _img: "")


def _page(name: str, severity: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return synth.render_page(SPECIMENS[name][1], FONT,
                             degradation=synth.Degradation.random(rng, severity), rng=rng)


@needs_font
@pytest.mark.parametrize("name", ["td3", "td1", "td2"])
def test_template_reader_reads_specimen_pages(name: str) -> None:
    _, recognise = ocr.make_recognizer("ocrb")
    result = ocr.read_mrz(_page(name, 0.5, seed=3), recognise, today=TODAY)
    assert result.lines == SPECIMENS[name][1]
    assert result.mrz.valid


@needs_font
@needs_tesseract
def test_tesseract_path_runs_end_to_end() -> None:
    # Tesseract's English model reads MRZs badly (docs/benchmarks_documents.md); this only
    # proves the path works: a located zone, two lines of TD3 length, a parsed result.
    _, recognise = ocr.make_recognizer("tesseract")
    result = ocr.read_mrz(_page("td3", 0.0, seed=1), recognise, today=TODAY)
    assert [len(line) for line in result.lines] == [44, 44]
    assert result.mrz.type is not None


@needs_font
def test_cli_ocr_json(tmp_path) -> None:
    path = tmp_path / "page.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(_page("td3", 0.5, seed=7), cv2.COLOR_RGB2BGR))
    out = CliRunner().invoke(app, ["document", "ocr", str(path), "--json", "--engine", "ocrb"])
    assert out.exit_code == 0, out.output
    obj = json.loads(out.stdout)
    assert obj["valid"] is True and obj["type"] == "TD3" and obj["engine"] == "ocrb"
    assert obj["lines"] == list(SPECIMENS["td3"][1]) and len(obj["lines_read"]) == 2
    missing = CliRunner().invoke(app, ["document", "ocr", str(tmp_path / "nope.jpg"), "--json"])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["error"] == "not_found"


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(DocumentError):
        ocr.make_recognizer("bogus")


def test_uncertain_flags_only_unchecked_positions() -> None:
    lines = SPECIMENS["td3"][1]
    margins = {lines[0]: [0.5] * 44, lines[1]: [0.5] * 44}
    margins[lines[0]][7] = 0.01  # the name's third letter: nothing would catch a misread
    margins[lines[1]][3] = 0.01  # in the document number: its check digit would
    margins[lines[1]][20] = 0.01  # the sex
    fixes = (ocr.Correction(0, 30, "K", "<", "class"),)
    margins[lines[0]][30] = 0.0  # already corrected by the name rule: not flagged again
    assert ocr._uncertain(lines, margins, fixes) == ((0, 7), (1, 20))
