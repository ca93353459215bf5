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
