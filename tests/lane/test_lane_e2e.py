"""End to end on real models: small vehicles rendered from the shipped public-domain photos,
plus broken events that must be reported per event without stopping the run."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bordermatch.lane.events import read_results, write_event

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lane(pd_faces: Path, tmp_path_factory):
    from bordermatch import registry
    from bordermatch.gallery.build import enrol
    from bordermatch.gallery.file import save
    from bordermatch.gallery.manifest import write_manifest
    from bordermatch.lane.scenario import OccupantPlan, params_for
    from bordermatch.lane.simulate import _Sources, render_vehicle
    from bordermatch.quality.measures import FaceQualityAssessor

    root = tmp_path_factory.mktemp("lane")
    gdir = root / "gallery"
    (gdir / "photos").mkdir(parents=True)
    rows = []
    for tid, person, photo in (("T-OBAMA", "Barack_Obama", "Barack_Obama_0001.jpg"),
                               ("T-BIDEN", "Joe_Biden", "Joe_Biden_0001.jpg")):
        (gdir / "photos" / photo).write_bytes((pd_faces / person / photo).read_bytes())
        rows.append({"traveler_id": tid, "given_names": person.split("_")[0],
                     "surname": person.split("_")[1], "document_type": "P",
                     "document_number": f"D-{tid}", "nationality": "USA", "citizen": "true",
                     "photo": f"photos/{photo}"})
    rows.append({**rows[0], "traveler_id": "T-GHOST", "document_number": "D-GHOST",
                 "photo": "photos/ghost.jpg"})  # a photo that is not there: one rejected row
    write_manifest(gdir / "manifest.csv", rows)
    det = registry.create("detector", "yunet", score_threshold=0.6)
    emb = registry.create("embedder", "sface")
    gallery = enrol(gdir, det, emb, FaceQualityAssessor(), min_quality=30,
                    same_face_threshold=0.9)
    save(gallery, root / "g.npz")

    events = root / "events"
    sources = _Sources(det)
    params = replace(params_for("easy"), glare_prob=0.0)
    obama = OccupantPlan("r1-left", "Barack_Obama",
                         str(pd_faces / "Barack_Obama" / "Barack_Obama_0002.jpg"), "T-OBAMA", False)
    biden = OccupantPlan("r1-right", "Joe_Biden",
                         str(pd_faces / "Joe_Biden" / "Joe_Biden_0002.jpg"), "T-BIDEN", False)
    astro = OccupantPlan("r2-middle", "Eileen_Collins",
                         str(pd_faces / "Eileen_Collins" / "Eileen_Collins_0001.jpg"), None, False)
    rng = np.random.default_rng(7)
    render_vehicle(events / "a-three", "a-three", [obama, biden, astro], sources, rng, params)
    render_vehicle(events / "b-driver", "b-driver", [replace(biden, seat="r1-left")], sources,
                   rng, params)
    # Broken events: each must come back with its own reason.
    (events / "c-bad-json").mkdir()
    (events / "c-bad-json" / "event.json").write_text("{oops")
    write_event(events / "d-empty", "d-empty", [("front", "windshield")])
    write_event(events / "e-unknown-cam", "e-unknown-cam", [("front", "windshield")])
    (events / "e-unknown-cam" / "frames" / "roof").mkdir(parents=True)
    (events / "e-unknown-cam" / "frames" / "roof" / "0000_0.jpg").write_bytes(b"x")
    write_event(events / "f-corrupt", "f-corrupt", [("front", "windshield")])
    (events / "f-corrupt" / "frames" / "front").mkdir(parents=True)
    (events / "f-corrupt" / "frames" / "front" / "0000_0.jpg").write_bytes(b"\xff\xd8garbage")
    # The driver again, with one frame misnamed and one corrupt: skipped, the rest decide.
    shutil.copytree(events / "b-driver", events / "g-odd-frames")
    meta = json.loads((events / "g-odd-frames" / "event.json").read_text())
    (events / "g-odd-frames" / "event.json").write_text(json.dumps({**meta,
                                                                    "event_id": "g-odd-frames"}))
    (events / "g-odd-frames" / "truth.json").unlink()  # scored above through b-driver
    frames = sorted((events / "g-odd-frames" / "frames").glob("*/*.jpg"))
    frames[0].rename(frames[0].with_name("IMG_0001.jpg"))
    frames[1].write_bytes(b"\xff\xd8garbage")
    return root


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
    from bordermatch.lane.runner import load_operating_point

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
    assert res.exit_code == 0, res.output
    point = json.loads(doc.read_text())
    assert point["rate"] == "FMR" and point["target"] == 1 and point["samples"] > 0
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
