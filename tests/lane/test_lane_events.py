"""Event folder parsing and the results line format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bordermatch.errors import EventError
from bordermatch.lane.events import (
    LaneEventError,
    frame_ref,
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


def test_a_misnamed_frame_is_skipped_and_listed_not_fatal(tmp_path):
    folder = _event(tmp_path, frames=("front/0000_0.jpg", "front/frame1.jpg",
                                      "front/0001_120.jpg"))
    (folder / "frames" / "front" / "0002_240.jpg").mkdir()  # a directory where a frame goes
    ev = read_event(folder)
    assert [f.seq for f in ev.frames] == [0, 1]
    assert [(s.camera, s.file) for s in ev.skipped] == [("front", "0002_240.jpg"),
                                                        ("front", "frame1.jpg")]
    assert ev.skipped[1].reason.startswith("bad_frame_name")
    assert ev.skipped[0].reason == "not a file"


def test_an_event_whose_every_frame_is_misnamed_names_them(tmp_path):
    folder = _event(tmp_path, frames=("front/frame1.jpg",))
    with pytest.raises(LaneEventError) as err:
        read_event(folder)
    assert err.value.reason == "empty_event"
    assert "front/frame1.jpg" in err.value.detail


def test_frame_ref_still_refuses_a_misnamed_upload():
    with pytest.raises(LaneEventError) as err:
        frame_ref("front/frame1.jpg")
    assert err.value.reason == "bad_frame_name" and "front/frame1.jpg" in err.value.detail


@pytest.mark.parametrize(("meta", "where"), [
    ("{\n  \"event_id\": oops}", "event.json line 2 column"),
    (json.dumps({"event_id": "e", "lane": 1}), "event.json field 'lane'"),
    (json.dumps({"event_id": "e", "lane": "1", "direction": "exit",
                 "started_at": "2026-01-01", "cameras": [{"id": "a", "view": "w"}, {"id": ""}]}),
     "event.json cameras[1]"),
    (json.dumps({"event_id": "e", "lane": "1", "direction": "exit",
                 "started_at": "2026-01-01", "cameras": [{"id": "front", "view": "w"}],
                 "documents": [{"document_type": "P"}]}), "event.json documents[0]"),
])
def test_an_event_json_error_says_where(tmp_path, meta, where):
    folder = _event(tmp_path)
    (folder / "event.json").write_text(meta)
    with pytest.raises(LaneEventError) as err:
        read_event(folder)
    assert err.value.reason == "bad_event_json"
    assert err.value.detail.startswith(where), err.value.detail


def test_unknown_camera_names_the_folder(tmp_path):
    folder = _event(tmp_path, frames=("roof/0000_0.jpg",))
    with pytest.raises(LaneEventError) as err:
        read_event(folder)
    assert err.value.reason == "unknown_camera" and "frames/roof/" in err.value.detail


def test_truth_parsing(tmp_path):
    (tmp_path / "truth.json").write_text(json.dumps(
        {"occupants": [{"traveler_id": "T1", "seat": "r1-left"},
                       {"traveler_id": None, "seat": "r3-right"}]}))
    truth = read_truth(tmp_path)
    assert [(o.traveler_id, o.row) for o in truth] == [("T1", 1), (None, 3)]
    (tmp_path / "truth.json").write_text(json.dumps({"occupants": [{"seat": "roof"}]}))
    with pytest.raises(LaneEventError):
        read_truth(tmp_path)


def test_result_line_carries_error_detail_and_skipped_frames():
    failed = result_to_json(LaneResult("e", (), 0.3, error="bad_event_json",
                                       error_detail="event.json field 'lane' missing"))
    assert failed["error"] == "bad_event_json"
    assert failed["error_detail"] == "event.json field 'lane' missing"
    decided = result_to_json(LaneResult(
        "e", (Occupant(1, "T1", 0.7, Outcome.MATCH, 55.0),), 90.0,
        skipped_frames=(("left", "0003_360.jpg", "corrupt_image: cannot decode"),)))
    assert "error" not in decided
    assert decided["skipped_frames"] == [{"camera": "left", "file": "0003_360.jpg",
                                          "reason": "corrupt_image: cannot decode"}]


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
