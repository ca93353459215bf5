"""The LFW View-2 path: pairs parsing (always) and a small real run (needs shared data)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bordermatch.errors import ManifestError
from bordermatch.eval.lfw import limit_pairs, read_pairs

HEADER = "2\t2\n"
BODY = (
    "Al\t1\t2\nBo\t1\t3\nAl\t1\tCy\t1\nBo\t2\tDi\t4\n"
    "Ed\t1\t2\nFe\t2\t3\nEd\t1\tGu\t1\nFe\t1\tHa\t1\n"
)


def test_read_pairs(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text(HEADER + BODY)
    pairs = read_pairs(path)
    assert len(pairs) == 8
    assert pairs[0].a == "Al/Al_0001.jpg" and pairs[0].b == "Al/Al_0002.jpg" and pairs[0].genuine
    assert pairs[3].b == "Di/Di_0004.jpg" and not pairs[3].genuine and pairs[3].fold == 0
    assert pairs[4].fold == 1
    subset = limit_pairs(pairs, 4)
    assert len(subset) == 4 and sum(p.genuine for p in subset) == 2


@pytest.mark.parametrize("text", ["", "2\n", "1\t2\nAl\t1\t2\n", "1\t1\nAl\t1\nAl\t1\tB\t2\n",
                                  "1\t1\nAl\tx\t2\nAl\t1\tB\t2\n"])
def test_malformed_pairs_raise_manifest_error(tmp_path, text):
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(ManifestError):
        read_pairs(path)


@pytest.mark.slow
def test_eval_lfw_subset_end_to_end(lfw_dir, tmp_path):
    """200 pairs (10 matched + 10 mismatched per fold) through the real `eval lfw` path."""
    from bordermatch.cli import app

    out = tmp_path / "report"
    result = CliRunner().invoke(app, [
        "eval", "lfw", "--lfw-dir", str(lfw_dir), "--limit-pairs", "200", "--workers", "2",
        "--cache-dir", str(tmp_path / "cache"), "--out", str(out), "--json",
    ])
    assert result.exit_code == 0, result.output
    # The progress bar shares the captured output (no newline before the JSON line).
    text = result.output
    summary = json.loads(text[text.rindex('{"rows"'):].splitlines()[0])
    acc = {r["matcher"]: r["accuracy_mean"] for r in summary["rows"]}
    # Full View 2 gives about 99.5% (SFace) and 99% (dlib); 200 pairs are noisy.
    assert acc["sface"] >= 0.95 and acc["dlib"] >= 0.93
    assert acc["fusion"] >= 0.95 and acc["cascade"] >= 0.95
    assert (out / "lfw_report.md").is_file() and (out / "lfw_det.png").stat().st_size > 1000
    assert list((tmp_path / "cache").glob("lfw-embeddings-*.npz"))
