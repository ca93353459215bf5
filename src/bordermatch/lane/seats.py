"""Seat estimation: which seat each occupant track sits in, from where the cameras saw it.

A lane's cameras are fixed, so each seat's face appears in a known zone of each camera's
image. :class:`LaneLayout` records those zones for one installation: the face centre of
every seat in the windshield camera's last frame (the car approaching grows about a
vanishing point until then) and the horizontal position of each row in the side cameras
(the car crosses their view, drifting a known amount per frame). The defaults are the
reference installation that ``lane simulate`` renders; a real site measures its own.

A track seen by the windshield camera is placed by its latest windshield shot, projected
to the last frame; a track seen only from the side gets its row from the side view (the
side of the car is ambiguous from one side camera, so it only prefers the camera's near
side). Seats are then assigned one-to-one (two people never share a seat); a track too far
from every free seat gets none. Used for officers ("the unmatched person is behind the
driver") and for per-row figures in the service's metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from bordermatch.errors import ConfigError
from bordermatch.lane.events import SEATS
from bordermatch.lane.track import Shot, Track

# Windshield camera, last frame: face centres by seat (fractions of the frame).
REFERENCE_FRONT_SEATS = MappingProxyType({
    "r1-left": (0.36, 0.65), "r1-right": (0.64, 0.65), "r2-left": (0.42, 0.55),
    "r2-middle": (0.5, 0.535), "r2-right": (0.58, 0.55), "r3-left": (0.46, 0.48),
    "r3-right": (0.54, 0.48)})


@dataclass(frozen=True, slots=True)
class LaneLayout:
    front_seats: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: REFERENCE_FRONT_SEATS)
    front_vanishing: tuple[float, float] = (0.5, 0.42)
    # Size of the car in the first windshield frame relative to the last; the middle of the
    # range the site sees (the simulator's default range is 0.70-0.85).
    approach_start_scale: float = 0.775
    side_row_x: tuple[float, float, float] = (0.69, 0.48, 0.29)  # left camera, rows 1-3
    side_drift_px: float = 45.0  # the car moves this far across a side frame per frame
    gate: float = 0.12  # farthest a track may be from its seat (fraction of frame width)


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """What the seat estimator needs to know about one camera of an event."""

    view: str  # "windshield", "side-left", "side-right" (event.json)
    frame_size: tuple[int, int]  # width, height in pixels
    frames: int  # frames the camera took during the event
    first: int = 0  # index of the first of them the pipeline used (baselines drop some)


def load_layout(path: Path) -> LaneLayout:
    """A site's layout from JSON: any of the :class:`LaneLayout` fields; the rest default.

    ``front_seats`` maps seat names (``r1-left`` ... ``r3-right``) to [x, y] fractions.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read lane layout ({exc})") from None
    known = {f.name for f in fields(LaneLayout)}
    if not isinstance(raw, dict) or set(raw) - known:
        raise ConfigError(f"{path}: a layout is an object with keys from {sorted(known)}")
    try:
        out: dict[str, Any] = {}
        if "front_seats" in raw:
            seats = raw["front_seats"]
            if not isinstance(seats, dict) or not seats:
                raise ValueError("front_seats must map seat names to [x, y]")
            bad = set(seats) - set(SEATS)
            if bad:
                raise ValueError(f"unknown seats {sorted(bad)}; use {list(SEATS)}")
            out["front_seats"] = MappingProxyType({k: _pair(v) for k, v in seats.items()})
        if "front_vanishing" in raw:
            out["front_vanishing"] = _pair(raw["front_vanishing"])
        if "side_row_x" in raw:
            rows = tuple(_number(x, 0.0, 1.0) for x in raw["side_row_x"])
            if len(rows) != 3:
                raise ValueError("side_row_x needs rows 1-3")
            out["side_row_x"] = rows
        if "approach_start_scale" in raw:
            out["approach_start_scale"] = _number(raw["approach_start_scale"], 0.05, 1.0)
        if "side_drift_px" in raw:
            out["side_drift_px"] = _number(raw["side_drift_px"], 0.0, 1e4)
        if "gate" in raw:
            out["gate"] = _number(raw["gate"], 1e-3, 1.0)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: bad lane layout ({exc})") from None
    return LaneLayout(**out)


def _number(v, lo: float, hi: float) -> float:
    x = float(v)
    if not (math.isfinite(x) and lo <= x <= hi):
        raise ValueError(f"{v!r} is not in [{lo:g}, {hi:g}]")
    return x


def _pair(v) -> tuple[float, float]:
    x, y = (_number(c, 0.0, 1.0) for c in v)
    return x, y


def estimate_seats(tracks: Sequence[Track], cameras: Mapping[str, CameraGeometry],
                   layout: LaneLayout | None = None) -> dict[int, str]:
    """track_id -> seat for the tracks that can be placed (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment

    layout = layout or LaneLayout()
    seats = list(layout.front_seats)
    if not tracks or not seats:
        return {}
    cost = np.full((len(tracks), len(seats)), np.inf)
    for i, tr in enumerate(tracks):
        c = _front_cost(tr, cameras, layout, seats)
        if c is None:
            c = _side_cost(tr, cameras, layout, seats)
        if c is not None:
            cost[i] = np.where(c <= layout.gate, c, np.inf)
    finite = np.where(np.isfinite(cost), cost, 1e6)
    out = {}
    for i, j in zip(*linear_sum_assignment(finite), strict=True):
        if np.isfinite(cost[i, j]):
            out[tracks[i].track_id] = seats[j]
    return out


def _latest(tr: Track, cameras: Mapping[str, CameraGeometry], prefix: str) -> Shot | None:
    shots = [s for s in tr.shots
             if s.camera in cameras and cameras[s.camera].view.startswith(prefix)]
    return max(shots, key=lambda s: (s.frame, s.face.width)) if shots else None


def _front_cost(tr, cameras, layout, seats):
    shot = _latest(tr, cameras, "windshield")
    if shot is None:
        return None
    cam = cameras[shot.camera]
    w, h = cam.frame_size
    a = layout.approach_start_scale
    s = a + (1 - a) * min((cam.first + shot.frame) / max(1, cam.frames - 1), 1.0)
    vx, vy = layout.front_vanishing
    cx, cy = shot.centre / np.array([w, h], np.float32)
    x, y = vx + (cx - vx) / s, vy + (cy - vy) / s
    aspect = h / w  # distances in fractions of the frame width
    return np.array([np.hypot(x - sx, (y - sy) * aspect)
                     for sx, sy in (layout.front_seats[k] for k in seats)])


def _side_cost(tr, cameras, layout, seats):
    shot = _latest(tr, cameras, "side")
    if shot is None:
        return None
    cam = cameras[shot.camera]
    w = cam.frame_size[0]
    right = cam.view.endswith("right")
    drift = layout.side_drift_px * (cam.frames - 1 - (cam.first + shot.frame))
    cx = float(shot.centre[0])
    x = (cx - drift if right else cx + drift) / w
    if right:
        x = 1.0 - x
    near = "right" if right else "left"
    out = []
    for seat in seats:
        row = int(seat[1]) - 1
        # Far-side faces sit a little further back in the image; the near side is likelier.
        out.append(abs(x - layout.side_row_x[row]) + (0.0 if seat.endswith(near) else 0.01))
    return np.array(out)
