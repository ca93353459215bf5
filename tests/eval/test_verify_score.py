"""The scorer of `verify --pairs` output (eval.verify_score) and its two CLI commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from bordermatch.cli import app
from bordermatch.errors import ManifestError
from bordermatch.eval.lfw import Pair
from bordermatch.eval.verify_score import read_results, score_results


def _pairs(folds=10, per=3):
    return [Pair(k, f"P{k}_{i}/a.jpg", f"P{k}_{i}/b.jpg", i < per)
            for k in range(folds) for i in range(2 * per)]


def _row(p: Pair, score: float | None, error: str | None = None, **extra) -> dict:
    return {"a": f"/data/{p.a}", "b": f"/data/{p.b}", "score": score, "error": error, **extra}


def test_separable_scores_give_full_accuracy_and_errors_are_non_matches():
    pairs = _pairs()
    rows = [_row(p, 5.0 if p.genuine else -5.0) for p in pairs]
    assert score_results(pairs, rows).accuracy_mean == 1.0
    # A pair that could not be compared is a non-match: right for an impostor pair, wrong
    # for a genuine one (1 of the fold's 6 pairs).
    rows[0] = _row(pairs[0], None, "no_face", side="a")
    rows[5] = _row(pairs[5], None, "no_face", side="b")
    s = score_results(pairs, rows)
    assert s.fold_accuracy[0] == pytest.approx(5 / 6) and s.fold_accuracy[1:] == (1.0,) * 9
    assert s.errors == {"no_face": 2} and s.failed_images == {"no_face": 2}
    assert s.accuracy_std > 0


def test_threshold_is_learnt_on_the_other_folds():
    pairs = _pairs()
    # Fold 0's genuine pairs score -4; everywhere else genuine is 5 and impostor -5. Without
    # fold 0 the best threshold is the middle of (-5, 5], 0, where fold 0's genuine pairs
    # fail; with it in training the threshold sits between -5 and -4.
    rows = [_row(p, (-4.0 if p.fold == 0 else 5.0) if p.genuine else -5.0) for p in pairs]
    s = score_results(pairs, rows)
    assert s.fold_accuracy[0] == pytest.approx(0.5) and s.fold_threshold[0] == 0.0
    assert s.fold_accuracy[1:] == (1.0,) * 9
    assert np.all(np.array(s.fold_threshold[1:]) < -4.0)


def test_counts_ambiguous_and_retried_images_once():
    pairs = _pairs(folds=2, per=1)
    rows = [_row(p, 1.0, ambiguous={"a": True, "b": False}, retried={"a": False, "b": True})
            for p in pairs]
    rows.append(dict(rows[0]))  # the same images again
    s = score_results([*pairs, pairs[0]], rows)
    assert (s.images, s.ambiguous_images, s.retried_images) == (8, 4, 4)


def test_results_must_line_up_with_the_pairs(tmp_path):
    pairs = _pairs(folds=2, per=1)
    rows = [_row(p, 1.0) for p in pairs]
    with pytest.raises(ManifestError, match="3 results for 4 pairs"):
        score_results(pairs, rows[:3])
    with pytest.raises(ManifestError, match="expected"):
        score_results(pairs, rows[1:] + rows[:1])
    bad = tmp_path / "r.jsonl"
    bad.write_text('{"a": 1}\n')
    with pytest.raises(ManifestError, match="not a verify result"):
        read_results(bad)
    bad.write_text("{not json\n")
    with pytest.raises(ManifestError, match=":1: not a JSON line"):
        read_results(bad)


def test_lfw_pairs_then_score_pairs_on_the_command_line(tmp_path):
    lfw = tmp_path / "lfw"
    people = {"Ann_Lee": 2, "Bob_Ray": 1}
    for name, n in people.items():
        (lfw / "lfw-deepfunneled" / name).mkdir(parents=True)
        for i in range(1, n + 1):
            (lfw / "lfw-deepfunneled" / name / f"{name}_{i:04d}.jpg").write_bytes(b"x")
    (lfw / "pairs.txt").write_text("2\t1\nAnn_Lee\t1\t2\nAnn_Lee\t1\tBob_Ray\t1\n"
                                   "Ann_Lee\t2\t1\nBob_Ray\t1\tAnn_Lee\t2\n")
    runner = CliRunner()
    tsv = tmp_path / "pairs.tsv"
    r = runner.invoke(app, ["eval", "lfw-pairs", "--lfw-dir", str(lfw), "--out", str(tsv)])
    assert r.exit_code == 0, r.output
    lines = [ln.split("\t") for ln in tsv.read_text().splitlines()]
    assert len(lines) == 4 and lines[1][1].endswith("lfw-deepfunneled/Bob_Ray/Bob_Ray_0001.jpg")
    scores = [3.0, -3.0, 2.0, -2.0]
    results = tmp_path / "v.jsonl"
    results.write_text("".join(json.dumps({"a": a, "b": b, "score": s, "error": None}) + "\n"
                               for (a, b), s in zip(lines, scores, strict=True)))
    r = runner.invoke(app, ["eval", "score-pairs", "--pairs", str(lfw / "pairs.txt"),
                            "--results", str(results), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["accuracy_mean"] == 1.0
    (lfw / "lfw-deepfunneled" / "Bob_Ray" / "Bob_Ray_0001.jpg").unlink()
    r = runner.invoke(app, ["eval", "lfw-pairs", "--lfw-dir", str(lfw), "--out", str(tsv)])
    assert r.exit_code == 2 and "not under" in r.output


def test_lfw_pairs_into_a_directory_is_the_os_error_exit(tmp_path):
    from bordermatch.cli._common import EXIT_OS

    lfw = tmp_path / "lfw"
    (lfw / "lfw-deepfunneled" / "A_B").mkdir(parents=True)
    (lfw / "lfw-deepfunneled" / "A_B" / "A_B_0001.jpg").write_bytes(b"x")
    (lfw / "lfw-deepfunneled" / "A_B" / "A_B_0002.jpg").write_bytes(b"x")
    (lfw / "lfw-deepfunneled" / "C_D").mkdir()
    (lfw / "lfw-deepfunneled" / "C_D" / "C_D_0001.jpg").write_bytes(b"x")
    (lfw / "pairs.txt").write_text("1\t1\nA_B\t1\t2\nA_B\t1\tC_D\t1\n")
    r = CliRunner().invoke(app, ["eval", "lfw-pairs", "--lfw-dir", str(lfw),
                                 "--out", str(tmp_path)])
    assert r.exit_code == EXIT_OS and isinstance(r.exception, SystemExit), r.output
    assert r.output.strip() == f"error (os_error): {tmp_path}: Is a directory"
