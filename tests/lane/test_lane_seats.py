"""Seat estimation from the reference layout: windshield zones, approach, side rows."""

from __future__ import annotations

from tests.fakes import make_face

from bordermatch.lane.seats import CameraGeometry, LaneLayout, estimate_seats
from bordermatch.lane.track import Shot, Track, Tracklet

W, H = 1280, 720
VIEWS = {"front": "windshield", "left": "side-left", "right": "side-right"}
LAYOUT = LaneLayout()


def _cams(frames: int = 4, first: int = 0) -> dict[str, CameraGeometry]:
    return {c: CameraGeometry(v, (W, H), frames, first) for c, v in VIEWS.items()}


def _shot(camera: str, frame: int, cx: float, cy: float, width: float = 60.0) -> Shot:
    return Shot(camera, frame, make_face(cx - width / 2, cy - width / 2, width), 60.0)


def _track(track_id: int, *shots: Shot) -> Track:
    return Track(track_id, tuple(Tracklet(s.camera, [s]) for s in shots))


def _front_at(seat: str, frame: int, frames: int, start: float) -> Shot:
    """Where the simulator puts a seat's face in windshield frame ``frame``."""
    sx, sy = LAYOUT.front_seats[seat]
    vx, vy = LAYOUT.front_vanishing
    s = start + (1 - start) * frame / (frames - 1)
    return _shot("front", frame, (vx + (sx - vx) * s) * W, (vy + (sy - vy) * s) * H)


def test_every_seat_from_the_last_windshield_frame():
    seats = list(LAYOUT.front_seats)
    tracks = [_track(i + 1, _front_at(seat, 3, 4, 0.8)) for i, seat in enumerate(seats)]
    got = estimate_seats(tracks, _cams())
    assert got == {i + 1: seat for i, seat in enumerate(seats)}


def test_an_early_frame_is_projected_along_the_approach():
    # First frame of a car at 0.70 of its final size: nearer r2-left than r1-left unprojected.
    tracks = [_track(1, _front_at("r1-left", 0, 4, 0.70)),
              _track(2, _front_at("r3-right", 1, 4, 0.85))]
    assert estimate_seats(tracks, _cams()) == {1: "r1-left", 2: "r3-right"}


def test_a_baseline_that_dropped_early_frames_projects_from_the_original_index():
    # --last-frames 1 of 4: the kept frame is the last (full size), numbered 0 in the
    # pipeline; projecting it as a first frame would put it 0.056 frame widths off.
    shot = _front_at("r1-right", 3, 4, 0.70)
    kept = _track(1, Shot("front", 0, shot.face, shot.quality))
    tight = LaneLayout(gate=0.03)
    assert estimate_seats([kept], _cams(frames=4, first=3), tight) == {1: "r1-right"}
    assert estimate_seats([kept], _cams(frames=4, first=0), tight) == {}


def test_a_camera_with_another_resolution_is_projected_in_its_own_frame():
    small = {"front": CameraGeometry("windshield", (640, 360), 4)}
    sx, sy = LAYOUT.front_seats["r2-right"]
    track = _track(1, _shot("front", 3, sx * 640, sy * 360, 20))
    assert estimate_seats([track], small) == {1: "r2-right"}
    assert estimate_seats([track], {}) == {}  # no geometry for its camera: no seat


def test_two_people_never_share_a_seat():
    a = _track(1, _front_at("r2-middle", 3, 4, 0.8))
    b = _track(2, _shot("front", 3, 0.49 * W, 0.54 * H))  # also closest to r2-middle
    got = estimate_seats([a, b], _cams())
    assert len(set(got.values())) == 2 and got[1] == "r2-middle"


def test_side_only_tracks_get_their_row_and_prefer_the_near_side():
    drift = LAYOUT.side_drift_px
    # Left camera, frame 1 of 4: the face has still to drift 2 frames to its row-2 spot.
    left = _track(1, _shot("left", 1, LAYOUT.side_row_x[1] * W - 2 * drift, 0.55 * H))
    right = _track(2, _shot("right", 3, (1 - LAYOUT.side_row_x[0]) * W, 0.55 * H))
    got = estimate_seats([left, right], _cams())
    assert got == {1: "r2-left", 2: "r1-right"}


def test_a_face_far_from_every_seat_gets_none():
    stray = _track(1, _shot("front", 3, 0.05 * W, 0.05 * H))
    assert estimate_seats([stray], _cams()) == {}
    assert estimate_seats([], _cams()) == {}


def test_a_site_layout_from_json(tmp_path):
    import json

    from bordermatch.lane.seats import load_layout

    path = tmp_path / "layout.json"
    path.write_text(json.dumps({"front_seats": {"r1-left": [0.3, 0.7], "r1-right": [0.7, 0.7]},
                                "side_row_x": [0.7, 0.5, 0.3], "gate": 0.1}))
    layout = load_layout(path)
    assert dict(layout.front_seats) == {"r1-left": (0.3, 0.7), "r1-right": (0.7, 0.7)}
    assert layout.side_row_x == (0.7, 0.5, 0.3) and layout.gate == 0.1
    assert layout.front_vanishing == LAYOUT.front_vanishing  # unspecified: the default
    track = _track(1, _shot("front", 3, 0.3 * W, 0.7 * H))
    assert estimate_seats([track], _cams(), layout) == {1: "r1-left"}


def test_bad_layouts_are_refused(tmp_path):
    import pytest

    from bordermatch.errors import ConfigError
    from bordermatch.lane.seats import load_layout

    cases = ["{oops", "[1, 2]", '{"lenses": 2}', '{"front_seats": {"r9-roof": [0.5, 0.5]}}',
             '{"front_seats": {"r1-left": [1.5, 0.5]}}', '{"side_row_x": [0.5]}',
             '{"gate": "wide"}', '{"front_seats": ["r1-left"]}', '{"front_seats": {}}',
             '{"approach_start_scale": 0}', '{"gate": NaN}', '{"side_row_x": [0.7, 0.5, 2]}',
             '{"front_vanishing": [0.5]}']
    for i, text in enumerate(cases):
        path = tmp_path / f"bad{i}.json"
        path.write_text(text)
        with pytest.raises(ConfigError):
            load_layout(path)
    with pytest.raises(ConfigError):
        load_layout(tmp_path / "missing.json")
