"""End-to-end CLI tests on the shared prints (skip without ../shared/data or nbis-py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tests.fingerprint.fp_helpers import encode
from typer.testing import CliRunner

from bordermatch.cli import app

runner = CliRunner()


def _json(args: list[str]) -> tuple[int, dict]:
    result = runner.invoke(app, ["fingerprint", *args, "--json"])
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_quality_and_recapture_flag(fp_data, nbis_backend):
    img = str(fp_data / "upek" / "1_1.png")
    code, out = _json(["quality", img])
    assert code == 0 and out["nfiq2"] == 83 and out["recapture"] is False
    assert out["ppi_source"] == "declared"  # the PNG says 96 dpi: an editor default
    code, out = _json(["quality", img, "--min-score", "90"])
    assert code == 0 and out["recapture"] is True


def test_non_fingerprint_is_a_named_error(tmp_path, nbis_backend):
    noise = tmp_path / "noise.png"
    noise.write_bytes(encode(np.random.default_rng(1).integers(0, 256, (300, 300))
                             .astype(np.uint8)))
    code, out = _json(["quality", str(noise)])
    assert code == 2 and out["error"] == "not_a_fingerprint"


def test_compare_decides_at_the_calibrated_fmr(fp_data, nbis_backend):
    u = fp_data / "upek"
    code, mate = _json(["compare", str(u / "1_1.png"), str(u / "1_2.png")])
    assert code == 0 and mate["decision"] == "match" and mate["target_fmr"] == 1e-3
    code, other = _json(["compare", str(u / "1_1.png"), str(u / "2_1.png")])
    assert code == 0 and other["decision"] == "no_match"
    assert other["score"] < other["threshold"] <= mate["score"]


def _build(fp_data: Path, tmp_path: Path) -> Path:
    # Pseudo-subjects: UPEK fingers (1, 2), (3, 4), (5, 6) as right index and middle.
    folder = tmp_path / "wl"
    for s, (a, b) in enumerate([(1, 2), (3, 4), (5, 6)], start=1):
        sub = folder / f"subject{s}"
        sub.mkdir(parents=True)
        (sub / "right_index.png").symlink_to(fp_data / "upek" / f"{a}_1.png")
        (sub / "3.png").symlink_to(fp_data / "upek" / f"{b}_1.png")
    out = tmp_path / "w.jsonl"
    code, report = _json(["watchlist", "build", str(folder), "--out", str(out)])
    assert code == 0 and (report["subjects"], report["fingers"]) == (3, 6)
    return out


def test_watchlist_build_and_two_finger_search(fp_data, nbis_backend, tmp_path):
    wl = _build(fp_data, tmp_path)
    u = fp_data / "upek"
    code, hit = _json(["search", "--watchlist", str(wl), f"2:{u / '3_5.png'}",
                       f"right_middle:{u / '4_5.png'}"])
    assert code == 0 and hit["outcome"] == "hit"
    assert hit["candidates"][0]["subject_id"] == "subject2"
    assert {f["position"] for f in hit["candidates"][0]["fingers"]} == {2, 3}
    code, miss = _json(["search", "--watchlist", str(wl), f"2:{u / '9_2.png'}",
                        f"3:{u / '10_2.png'}"])
    assert code == 0 and miss["outcome"] == "no_hit" and miss["candidates"] == []
    assert miss["best_score"] < miss["threshold"]


def test_search_asks_for_recapture_on_a_poor_print(fp_data, nbis_backend, tmp_path):
    wl = _build(fp_data, tmp_path)
    poor = fp_data / "fvc2002_db1_samples" / "101_2.tif"  # NFIQ 2 38
    code, out = _json(["search", "--watchlist", str(wl), str(poor), "--min-score", "40"])
    assert code == 0 and out["outcome"] == "recapture" and out["probes"][0]["nfiq2"] == 38


def test_eval_on_a_subset(fp_data, nbis_backend):
    code, out = _json(["eval", str(fp_data / "upek"), "--max-fingers", "3",
                       "--max-impressions", "3"])
    assert code == 0 and out["images"] == 9
    assert (out["genuine"], out["impostor"]) == (3 * 3, 36 - 9)
    assert out["fnmr_at_fmr_0.001"] is None  # 27 impostors cannot measure 1e-3
    assert 0 <= out["eer"] < 0.1 and out["comparisons_per_s"] > 0
