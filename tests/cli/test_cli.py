"""The CLI end to end on real models and the shipped photos (through typer's runner)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bordermatch.cli import app

runner = CliRunner()


def _json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_verify_same_and_different_person(publicdomain):
    same = runner.invoke(app, ["verify", str(publicdomain / "obama.jpg"),
                               str(publicdomain / "obama2.jpg"), "--json"])
    assert same.exit_code == 0, same.output
    row = _json_lines(same.output)[0]
    assert row["decision"] == "match" and row["error"] is None
    assert set(row["quality"]["a"]) >= {"unified", "inter_eye_distance", "sharpness", "yaw"}
    diff = runner.invoke(app, ["verify", str(publicdomain / "obama.jpg"),
                               str(publicdomain / "biden.jpg"), "--json"])
    assert _json_lines(diff.output)[0]["decision"] == "no_match"
    assert _json_lines(diff.output)[0]["score"] < row["score"]


@pytest.mark.slow
def test_batch_keeps_order_and_reports_bad_lines(publicdomain, tmp_path):
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), (120, 120, 120)).save(blank)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes((publicdomain / "obama.jpg").read_bytes()[:3000])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    o, b = publicdomain / "obama.jpg", publicdomain / "biden2.jpg"
    lines = [f"{o}\t{publicdomain / 'obama2.jpg'}", f"{o}\t{blank}", "only-one-column",
             f"{corrupt}\t{o}", f"{o}\t{b}", f"{empty}\t{o}", f"{tmp_path / 'missing.jpg'}\t{o}"]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["verify", "--pairs", str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.output)
    assert [r["error"] for r in rows] == [None, "no_face", "bad_line", "corrupt_image", None,
                                          "empty_image", "not_found"]
    assert rows[0]["decision"] == "match" and rows[4]["decision"] == "no_match"
    assert rows[0]["a"] == str(o) and rows[4]["b"] == str(b)
    for r in rows:
        assert set(r) >= {"a", "b", "score", "decision", "error"}
    assert rows[0]["ambiguous"] == {"a": False, "b": False}
    assert rows[0]["faces"] == {"a": 1, "b": 1}


@pytest.mark.slow
def test_verify_says_when_a_photo_is_ambiguous(publicdomain, ambiguous_photo):
    two = str(ambiguous_photo)
    one = str(publicdomain / "obama2.jpg")
    result = runner.invoke(app, ["verify", two, one, "--json"])
    assert result.exit_code == 0, result.output
    row = _json_lines(result.output)[0]
    assert row["ambiguous"] == {"a": True, "b": False} and row["faces"]["a"] == 2
    text = runner.invoke(app, ["verify", two, one])
    assert "ambiguous=a" in text.output and "warning: a holds 2 faces" in text.output


@pytest.mark.slow
def test_verify_errors_exit_2_in_json_and_text(publicdomain, tmp_path):
    args = ["verify", str(tmp_path), str(publicdomain / "obama.jpg")]  # a directory as image
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 2, as_json.output
    assert _json_lines(as_json.output)[0]["error"] == "not_found"
    text = runner.invoke(app, args)
    assert text.exit_code == 2 and isinstance(text.exception, SystemExit)  # not a traceback
    assert "is a directory" in text.output and len(text.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_detect_writes_annotation(publicdomain, tmp_path):
    out = tmp_path / "annotated.png"
    result = runner.invoke(app, ["detect", str(publicdomain / "two_people.jpg"), "--json",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = _json_lines(result.output)[0]
    assert len(report["faces"]) == 2 and sum(f["subject"] for f in report["faces"]) == 1
    assert report["ambiguous"] is False and report["retried"] is False  # far apart
    assert out.stat().st_size > 1000


def test_detect_rejects_a_non_image(tmp_path):
    f = tmp_path / "notes.jpg"
    f.write_text("not an image")
    result = runner.invoke(app, ["detect", str(f), "--json"])
    assert result.exit_code == 2
    assert _json_lines(result.output)[0]["error"] == "corrupt_image"


def test_models_verify_passes_on_pinned_carriers():
    result = runner.invoke(app, ["models", "verify"])
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output


def test_verify_needs_two_images_or_pairs():
    assert runner.invoke(app, ["verify"]).exit_code != 0


def test_models_verify_checks_a_user_pack(tmp_path):
    from tests.models.onnx_packs import default_pack

    pack = default_pack(tmp_path / "pack")
    ok = runner.invoke(app, ["models", "verify", "--pack", str(pack)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("ok") >= 7  # five bundled files plus the pack's two
    onnx_file = next(pack.glob("*.onnx"))
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    bad = runner.invoke(app, ["models", "verify", "--pack", str(pack)])
    assert bad.exit_code == 3 and "FAILED" in bad.output


@pytest.mark.slow
def test_verify_pairs_survives_a_line_that_is_not_utf8(publicdomain, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    o, o2 = publicdomain / "obama.jpg", publicdomain / "obama2.jpg"
    pairs.write_bytes(b"bad\xff\tx\n" + f"{o}\t{o2}\n".encode())
    result = runner.invoke(app, ["verify", "--pairs", str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    assert [r["error"] for r in _json_lines(result.output)] == ["bad_line", None]


def test_verify_pairs_file_missing_is_one_line_exit_2(tmp_path):
    for extra in ([], ["--json"]):
        result = runner.invoke(app, ["verify", "--pairs", str(tmp_path / "none.tsv"), *extra])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert "cannot read pairs file" in result.output


@pytest.mark.slow
def test_detect_out_to_a_directory_is_one_line_not_a_traceback(publicdomain, tmp_path):
    result = runner.invoke(app, ["detect", str(publicdomain / "obama.jpg"), "--out",
                                 str(tmp_path)])
    assert result.exit_code == 4 and isinstance(result.exception, SystemExit), result.output
    assert "cannot write the annotated image" in result.output


@pytest.mark.slow
def test_detect_out_says_where_it_wrote(publicdomain, tmp_path):
    out = tmp_path / "a.png"
    result = runner.invoke(app, ["detect", str(publicdomain / "obama.jpg"), "--out", str(out)])
    assert result.exit_code == 0 and f"wrote annotated image to {out}" in result.output


@pytest.mark.slow
def test_verify_no_face_names_the_image(publicdomain, tmp_path):
    from PIL import Image
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    result = runner.invoke(app, ["verify", str(blank), str(publicdomain / "obama.jpg")])
    assert result.exit_code == 2 and f"error (no_face): {blank}: " in result.output
