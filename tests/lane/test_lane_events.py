"""Event folder parsing and the results line format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bordermatch.errors import EventError
from bordermatch.lane.events import (
    LaneEventError,
    read_event,
    read_results,
    read_truth,
    result_to_json,
    write_event,
)
from bordermatch.types import LaneResult, Occupant, Outcome


def _event(tmp_path: Path, cams=(("front", "windshield"),), frames=("front/0000_0.jpg",)) -> Path:
    folder = tmp_path / "ev1"
    write_event(folder, "ev1", list(cams))
    for f in frames:
        p = folder / "frames" / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"not decoded here")
    return folder


def test_reads_a_valid_event(tmp_path):
    folder = _event(tmp_path, frames=("front/0001_120.jpg", "front/0000_0.jpg"))
    ev = read_event(folder)
    assert ev.event_id == "ev1" and ev.direction == "entry"
    assert [(f.seq, f.t_ms) for f in ev.frames] == [(0, 0), (1, 120)]


@pytest.mark.parametrize(("mutate", "reason"), [
    (lambda f: (f / "event.json").unlink(), "missing_event_json"),
    (lambda f: (f / "event.json").write_text("{not json"), "bad_event_json"),
    (lambda f: (f / "event.json").write_text("[]"), "bad_event_json"),
    (lambda f: (f / "event.json").write_text(json.dumps(
        {"event_id": "e", "lane": "1", "direction": "sideways", "started_at": "2026-01-01",
         "cameras": []})), "bad_event_json"),
    (lambda f: (f / "event.json").write_text(json.dumps(
        {"event_id": "e", "lane": "1", "direction": "exit", "started_at": "yesterday",
         "cameras": []})), "bad_event_json"),
])
def test_bad_event_json_has_a_reason(tmp_path, mutate, reason):
    folder = _event(tmp_path)
    mutate(folder)
    with pytest.raises(LaneEventError) as err:
        read_event(folder)
    assert err.value.reason == reason
    assert isinstance(err.value, EventError)


def test_unknown_camera_and_empty_event(tmp_path):
    folder = _event(tmp_path, frames=("side/0000_0.jpg",))
    with pytest.raises(LaneEventError) as err:
        read_event(folder)
    assert err.value.reason == "unknown_camera"
    empty = _event(tmp_path / "x", frames=())
    with pytest.raises(LaneEventError) as err:
        read_event(empty)
    assert err.value.reason == "empty_event"


def test_bad_frame_name(tmp_path):
    folder = _event(tmp_path, frames=("front/frame1.jpg",))
    with pytest.raises(LaneEventError) as err:
        read_event(folder)
    assert err.value.reason == "bad_frame_name"


def test_truth_parsing(tmp_path):
    (tmp_path / "truth.json").write_text(json.dumps(
        {"occupants": [{"traveler_id": "T1", "seat": "r1-left"},
                       {"traveler_id": None, "seat": "r3-right"}]}))
    truth = read_truth(tmp_path)
    assert [(o.traveler_id, o.row) for o in truth] == [("T1", 1), (None, 3)]
    (tmp_path / "truth.json").write_text(json.dumps({"occupants": [{"seat": "roof"}]}))
    with pytest.raises(LaneEventError):
        read_truth(tmp_path)


def test_result_line_has_the_design_fields(tmp_path):
    r = LaneResult("e1", (Occupant(1, "T1", 0.71234567, Outcome.MATCH, 55.5),
                          Occupant(2, None, None, Outcome.NO_CAPTURE, 3.0)), 123.456)
    row = result_to_json(r)
    assert set(row) == {"event_id", "occupants", "latency_ms"}
    assert set(row["occupants"][0]) == {"track_id", "traveler_id", "score", "decision", "quality"}
    assert row["occupants"][1]["decision"] == "no_capture"
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(row) + "\n\n")
    assert next(iter(read_results(path)))["event_id"] == "e1"
    path.write_text("{bad\n")
    with pytest.raises(EventError):
        list(read_results(path))
