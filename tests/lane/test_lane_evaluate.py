"""Vehicle scoring rules of the lane evaluation."""

from __future__ import annotations

import json

import pytest

from bordermatch.errors import MetricError
from bordermatch.lane.evaluate import evaluate, score_vehicle
from bordermatch.lane.events import TruthOccupant, write_event

TRUTH = (TruthOccupant("T1", "r1-left"), TruthOccupant("T2", "r2-left"),
         TruthOccupant(None, "r1-right"))


def _t(tid, decision, score=0.5):
    return {"track_id": 1, "traveler_id": tid, "score": score, "decision": decision,
            "quality": 50.0}


def test_all_correct_is_validated():
    row = {"occupants": [_t("T1", "match"), _t("T2", "match"), _t(None, "no_match")]}
    v = score_vehicle("e", TRUTH, row)
    assert v.validated and v.captured and v.matched == (True, True, True)


def test_review_is_not_a_match_and_missing_non_mated_track_fails():
    row = {"occupants": [_t("T1", "match"), _t("T2", "review")]}
    v = score_vehicle("e", TRUTH, row)
    assert v.matched == (True, False, False)
    assert not v.validated and not v.captured


def test_a_false_match_invalidates_the_vehicle():
    row = {"occupants": [_t("T1", "match"), _t("T2", "match"), _t("T9", "match")]}
    v = score_vehicle("e", TRUTH, row)
    assert v.false_matches == 1 and not v.validated


def test_no_capture_tracks_do_not_count_as_captured():
    row = {"occupants": [_t("T1", "match"), _t("T2", "match"), _t(None, "no_capture", None)]}
    v = score_vehicle("e", TRUTH, row)
    assert not v.captured and not v.validated


def test_missing_result_line():
    v = score_vehicle("e", TRUTH, None)
    assert v.error == "missing_result" and not v.validated


def test_evaluate_reads_folders_and_results(tmp_path):
    events = tmp_path / "events"
    for i, _decision in enumerate(["match", "no_match"]):
        folder = events / f"e{i}"
        write_event(folder, f"e{i}", [("front", "windshield")])
        (folder / "truth.json").write_text(json.dumps(
            {"occupants": [{"traveler_id": "T1", "seat": "r1-left"}]}))
    results = tmp_path / "r.jsonl"
    results.write_text("\n".join(json.dumps(
        {"event_id": f"e{i}", "occupants": [_t("T1" if d == "match" else None, d)],
         "latency_ms": 100.0 * (i + 1)}) for i, d in enumerate(["match", "no_match"])))
    metrics, _outcomes, _ = evaluate(events, results)
    assert metrics["vehicle_validation_rate"] == 0.5
    assert metrics["match_rate_by_row"] == {"row1": 0.5}
    assert metrics["fpir"] is None and metrics["false_matches"] == 0
    assert metrics["latency_ms_p50"] == pytest.approx(150.0)
    assert metrics["occupant_count_exact_rate"] == 1.0 and metrics["tracks_per_occupant"] == 1.0
    with pytest.raises(MetricError):
        evaluate(_empty(tmp_path), results)


def _empty(tmp_path):
    d = tmp_path / "none"
    d.mkdir()
    return d


def test_the_right_traveller_held_for_review_is_review_not_missed(tmp_path):
    from bordermatch.lane.report import write_report

    row = {"occupants": [_t("T1", "match"), _t("T2", "review"), _t(None, "no_match")]}
    v = score_vehicle("e", TRUTH, row)
    assert v.statuses == ("match", "review", "match")
    assert v.matched == (True, False, True) and not v.validated  # review is not a match
    wrong = score_vehicle("w", TRUTH, {"occupants": [_t("T1", "match"), _t("T9", "review"),
                                                     _t(None, "no_match")]})
    assert wrong.statuses == ("match", "missed", "match")
    events = _events(tmp_path, ["e", "w"])
    results = tmp_path / "r.jsonl"
    results.write_text("\n".join(json.dumps({"event_id": e, **r, "latency_ms": 90.0}) for e, r in
                                 (("e", row), ("w", {"occupants": [_t("T1", "match"),
                                                                   _t("T9", "review"),
                                                                   _t(None, "no_match")]}))))
    metrics, outcomes, series = evaluate(events, results)
    assert metrics["review_rate"] == pytest.approx(1 / 4)  # T2 of e; T2 of w was missed
    report = write_report(tmp_path / "report", metrics, outcomes, series).read_text()
    line_e = next(x for x in report.splitlines() if x.startswith("| e |"))
    assert "r2-left: T2 review" in line_e and "MISSED" not in line_e
    line_w = next(x for x in report.splitlines() if x.startswith("| w |"))
    assert "r2-left: T2 MISSED" in line_w


def test_failed_events_stay_out_of_the_latency_figures(tmp_path):
    events = _events(tmp_path, ["ok1", "ok2", "bad"])
    results = tmp_path / "r.jsonl"
    rows = [{"event_id": "ok1", "occupants": [_t("T1", "match")], "latency_ms": 400.0},
            {"event_id": "ok2", "occupants": [_t("T1", "match")], "latency_ms": 600.0,
             "skipped_frames": [{"camera": "front", "file": "x.jpg", "reason": "bad_frame_name"}]},
            {"event_id": "bad", "occupants": [], "latency_ms": 0.2, "error": "bad_event_json",
             "error_detail": "event.json field 'lane' missing or not str"}]
    results.write_text("\n".join(map(json.dumps, rows)))
    metrics, _, series = evaluate(events, results)
    assert series["latency_ms"] == [400.0, 600.0]
    assert metrics["latency_ms_p50"] == pytest.approx(500.0)
    assert metrics["latency_vehicles"] == 2 and metrics["events_with_error"] == 1


def _events(tmp_path, ids):
    events = tmp_path / "events"
    for e in ids:
        write_event(events / e, e, [("front", "windshield")])
        (events / e / "truth.json").write_text(json.dumps({"occupants": [
            {"traveler_id": "T1", "seat": "r1-left"}, {"traveler_id": "T2", "seat": "r2-left"},
            {"traveler_id": None, "seat": "r1-right"}]}))
    return events
