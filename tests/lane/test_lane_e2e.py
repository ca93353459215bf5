"""End to end on real models: small vehicles rendered from the shipped public-domain photos,
plus broken events that must be reported per event without stopping the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bordermatch.lane.events import read_results

pytestmark = pytest.mark.slow


def test_lane_run_and_evaluate(lane: Path):
    from bordermatch.lane.evaluate import evaluate
    from bordermatch.lane.runner import build_pipeline, run_events

    pipeline = build_pipeline(lane / "g.npz")
    out = lane / "results.jsonl"
    assert run_events(pipeline, lane / "events", out) == 7
    rows = {r["event_id"]: r for r in read_results(out)}
    assert rows["c-bad-json"]["error"] == "bad_event_json"
    assert rows["c-bad-json"]["error_detail"].startswith("event.json line 1 column 2")
    assert rows["d-empty"]["error"] == "empty_event"
    assert rows["e-unknown-cam"]["error"] == "unknown_camera"
    assert "frames/roof/" in rows["e-unknown-cam"]["error_detail"]
    assert rows["f-corrupt"]["error"] == "unreadable_frames"
    assert "front/0000_0.jpg" in rows["f-corrupt"]["error_detail"]
    odd = rows["g-odd-frames"]
    assert "error" not in odd
    assert [o["traveler_id"] for o in odd["occupants"] if o["decision"] == "match"] == ["T-BIDEN"]
    skipped = {(f["camera"], f["file"]): f["reason"] for f in odd["skipped_frames"]}
    assert len(skipped) == 2 and any(f == "IMG_0001.jpg" for _, f in skipped)
    assert sorted(r.split(":")[0] for r in skipped.values()) == ["bad_frame_name",
                                                                 "corrupt_image"]
    three = rows["a-three"]["occupants"]
    matched = sorted(o["traveler_id"] for o in three if o["decision"] == "match")
    assert matched == ["T-BIDEN", "T-OBAMA"]
    assert sum(o["decision"] == "no_match" for o in three) >= 1  # the astronaut
    assert rows["b-driver"]["occupants"][0]["traveler_id"] == "T-BIDEN"
    seat = {o["traveler_id"]: o.get("seat") for o in three if o["decision"] == "match"}
    assert seat == {"T-OBAMA": "r1-left", "T-BIDEN": "r1-right"}
    assert rows["b-driver"]["occupants"][0]["seat"] == "r1-left"
    assert all(r["latency_ms"] > 0 for k, r in rows.items() if k < "c")
    metrics, _, _ = evaluate(lane / "events", out)
    assert metrics["vehicles"] == 2
    assert metrics["vehicle_validation_rate"] == 1.0 and metrics["false_matches"] == 0
    assert metrics["seat_accuracy"] == 1.0 and metrics["seats_checked"] == 3


def test_cli_gallery_build_and_lane_commands(lane: Path, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["gallery", "build", str(lane / "gallery"), "--out",
                              str(tmp_path / "g2.npz"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["enrolled"] == 2
    # Text mode: a summary with counts; the per-photo note only in the sidecar and with -v.
    res = runner.invoke(app, ["gallery", "build", str(lane / "gallery"), "--out",
                              str(tmp_path / "g2.npz")])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("\n") == 1 and "1 rejected (not_found 1)" in res.stdout
    assert "rejected line" not in res.output
    res = runner.invoke(app, ["gallery", "build", str(lane / "gallery"), "--out",
                              str(tmp_path / "g2.npz"), "-v"])
    assert "rejected line 4 T-GHOST: not_found" in res.stderr
    assert "rejected line" not in res.stdout
    # A terminal gets a bar on stderr; stdout keeps the one summary line.
    monkeypatch.setattr("bordermatch.cli.progress._is_tty", lambda stream: True)
    res = runner.invoke(app, ["lane", "run", "--gallery", str(tmp_path / "g2.npz"), "--events",
                              str(lane / "events"), "--out", str(tmp_path / "r.jsonl")])
    assert res.exit_code == 0, res.output
    assert "vehicles: 100%" in res.stderr and "7/7" in res.stderr
    assert res.stdout.startswith("7 events in ") and res.stdout.count("\n") == 1
    assert "(4 with an error reason, 3 frames skipped)" in res.stdout  # f-corrupt too
    res = runner.invoke(app, ["lane", "evaluate", "--events", str(lane / "events"),
                              "--results", str(tmp_path / "r.jsonl"), "--out",
                              str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.md").is_file()
    assert (tmp_path / "rep" / "match_rate_by_seat.png").stat().st_size > 0
    assert "the lowest scores decided" in (tmp_path / "rep" / "report.md").read_text()
    # With the thresholds lane run used, the score plot draws those, not estimates.
    from bordermatch.lane.operating_points import load_operating_point

    bundled = load_operating_point("sface")
    thresholds = tmp_path / "th.json"
    bundled.save(thresholds)
    res = runner.invoke(app, ["lane", "evaluate", "--events", str(lane / "events"),
                              "--results", str(tmp_path / "r.jsonl"), "--out",
                              str(tmp_path / "rep2"), "--thresholds", str(thresholds)])
    assert res.exit_code == 0, res.output
    report = (tmp_path / "rep2" / "report.md").read_text()
    assert f"match ({bundled.rate} {bundled.target:g}) {bundled.match:.3f}" in report


def test_cli_lane_calibrate_pools_sets(lane: Path, tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    runner = CliRunner()
    g, ev = str(lane / "g.npz"), str(lane / "events")
    rates = ["--target-fpir", "1", "--review-fpir", "1"]  # one non-mated search shows no less
    res = runner.invoke(app, ["lane", "calibrate", "--gallery", g, "--events", ev, *rates,
                              "--out", str(tmp_path / "one.json")])
    assert res.exit_code == 0, res.output
    one = json.loads((tmp_path / "one.json").read_text())
    res = runner.invoke(app, ["lane", "calibrate", "--gallery", g, "--events", ev,
                              "--gallery", g, "--events", ev, *rates,
                              "--out", str(tmp_path / "two.json")])
    assert res.exit_code == 0, res.output
    two = json.loads((tmp_path / "two.json").read_text())
    assert one["model"] == "sface" and one["rate"] == "FPIR" and one["samples"] > 0
    assert two["samples"] == 2 * one["samples"]
    assert "mated searches" in two["provenance"]


def test_cli_lane_calibrate_refuses_a_target_its_searches_cannot_show(lane: Path, tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    res = CliRunner().invoke(app, ["lane", "calibrate", "--gallery", str(lane / "g.npz"),
                                   "--events", str(lane / "events"),
                                   "--out", str(tmp_path / "t.json")])
    assert res.exit_code != 0 and "cannot calibrate" in res.output
    assert not (tmp_path / "t.json").exists()


def test_cli_lane_calibrate_needs_one_gallery_per_events_dir(lane: Path, tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    res = CliRunner().invoke(app, ["lane", "calibrate", "--gallery", str(lane / "g.npz"),
                                   "--events", str(lane / "events"), "--events",
                                   str(lane / "events"), "--out", str(tmp_path / "t.json")])
    assert res.exit_code != 0
    assert "one gallery per events directory" in res.output
    assert not (tmp_path / "t.json").exists()


def test_cli_lane_run_with_a_site_layout(lane: Path, tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    runner = CliRunner()
    base = ["lane", "run", "--gallery", str(lane / "g.npz"), "--events", str(lane / "events")]
    bad = tmp_path / "bad.json"
    bad.write_text('{"front_seats": {"r9-roof": [0.5, 0.5]}}')
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "r0.jsonl"), "--layout", str(bad)])
    assert res.exit_code != 0 and "r9-roof" in res.output
    # A site whose windshield camera sees only the front row: rear occupants get no seat.
    front = tmp_path / "front.json"
    front.write_text('{"front_seats": {"r1-left": [0.36, 0.65], "r1-right": [0.64, 0.65]}}')
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "r.jsonl"), "--layout", str(front)])
    assert res.exit_code == 0, res.output
    rows = {r["event_id"]: r for r in read_results(tmp_path / "r.jsonl")}
    seats = sorted(o.get("seat") or "-" for o in rows["a-three"]["occupants"])
    assert seats[-2:] == ["r1-left", "r1-right"] and "r2-middle" not in seats


def test_each_lane_detector_keeps_its_own_operating_point(lane: Path):
    from bordermatch.lane.runner import build_pipeline

    assert build_pipeline(lane / "g.npz").detector.score_threshold == 0.6  # YuNet
    assert build_pipeline(lane / "g.npz", detector="centerface").detector.score_threshold == 0.35
    chosen = build_pipeline(lane / "g.npz", detector="centerface", detector_score=0.5)
    assert chosen.detector.score_threshold == 0.5


def test_cli_document_threshold_and_the_fnmr_table(lane: Path, tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    runner = CliRunner()
    g, ev = str(lane / "g.npz"), str(lane / "events")
    doc = tmp_path / "doc.json"
    # A two-traveller gallery gives a handful of non-mated comparisons: FMR 1 is what shows.
    res = runner.invoke(app, ["lane", "calibrate", "--gallery", g, "--events", ev,
                              "--target-fpir", "1", "--review-fpir", "1", "--out",
                              str(tmp_path / "th.json"), "--document-out", str(doc),
                              "--document-fmr", "1"])
    # Two travellers are no cohort to T-normalise by: raw scores must be asked for.
    assert res.exit_code == 2 and "--document-norm none" in res.output
    res = runner.invoke(app, ["lane", "calibrate", "--gallery", g, "--events", ev,
                              "--target-fpir", "1", "--review-fpir", "1", "--out",
                              str(tmp_path / "th.json"), "--document-out", str(doc),
                              "--document-fmr", "1", "--document-norm", "none"])
    assert res.exit_code == 0, res.output
    point = json.loads(doc.read_text())
    assert point["rate"] == "FMR" and point["target"] == 1 and point["samples"] > 0
    assert point["normalisation"] is None
    assert "document stage" in point["provenance"]
    res = runner.invoke(app, ["lane", "run", "--gallery", g, "--events", ev, "--out",
                              str(tmp_path / "r.jsonl"), "--document-thresholds", str(doc)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["lane", "evaluate", "--events", ev, "--results",
                              str(tmp_path / "r.jsonl"), "--out", str(tmp_path / "rep"),
                              "--gallery", g])
    assert res.exit_code == 0, res.output
    table = json.loads((tmp_path / "rep" / "metrics.json").read_text())["verification_1to1"]
    assert table["overall"]["n"] > 0 and set(table["daylight"]) <= {"day", "night"}
    assert "1:1 FNMR" in (tmp_path / "rep" / "report.md").read_text()
