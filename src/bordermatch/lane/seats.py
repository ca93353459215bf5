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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

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
        if "front_seats" in raw:
            bad = set(raw["front_seats"]) - set(SEATS)
            if bad:
                raise ConfigError(f"{path}: unknown seats {sorted(bad)}; use {list(SEATS)}")
            raw["front_seats"] = MappingProxyType(
                {k: _pair(v) for k, v in raw["front_seats"].items()})
        if "front_vanishing" in raw:
            raw["front_vanishing"] = _pair(raw["front_vanishing"])
        if "side_row_x" in raw:
            rows = tuple(float(x) for x in raw["side_row_x"])
            if len(rows) != 3:
                raise ValueError("side_row_x needs rows 1-3")
            raw["side_row_x"] = rows
        for k in ("approach_start_scale", "side_drift_px", "gate"):
            if k in raw:
                raw[k] = float(raw[k])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: bad lane layout ({exc})") from None
    return LaneLayout(**raw)


def _pair(v) -> tuple[float, float]:
    x, y = (float(c) for c in v)
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise ValueError(f"{v} is not a pair of frame fractions")
    return x, y


def estimate_seats(tracks: Sequence[Track], views: Mapping[str, str],
                   frames_per_camera: Mapping[str, int], frame_size: tuple[int, int],
                   layout: LaneLayout | None = None) -> dict[int, str]:
    """track_id -> seat for the tracks that can be placed (see the module docstring)."""
    from scipy.optimize import linear_sum_assignment

    layout = layout or LaneLayout()
    seats = list(layout.front_seats)
    if not tracks or not seats:
        return {}
    cost = np.full((len(tracks), len(seats)), np.inf)
    for i, tr in enumerate(tracks):
        c = _front_cost(tr, views, frames_per_camera, frame_size, layout, seats)
        if c is None:
            c = _side_cost(tr, views, frames_per_camera, frame_size, layout, seats)
        if c is not None:
            cost[i] = np.where(c <= layout.gate, c, np.inf)
    finite = np.where(np.isfinite(cost), cost, 1e6)
    out = {}
    for i, j in zip(*linear_sum_assignment(finite), strict=True):
        if np.isfinite(cost[i, j]):
            out[tracks[i].track_id] = seats[j]
    return out


def _latest(tr: Track, views: Mapping[str, str], prefix: str) -> Shot | None:
    shots = [s for s in tr.shots if views.get(s.camera, "").startswith(prefix)]
    return max(shots, key=lambda s: (s.frame, s.face.width)) if shots else None


def _front_cost(tr, views, frames_per_camera, frame_size, layout, seats):
    shot = _latest(tr, views, "windshield")
    if shot is None:
        return None
    w, h = frame_size
    n = max(1, frames_per_camera.get(shot.camera, 1) - 1)
    a = layout.approach_start_scale
    s = a + (1 - a) * min(shot.frame / n, 1.0)
    vx, vy = layout.front_vanishing
    cx, cy = shot.centre / np.array([w, h], np.float32)
    x, y = vx + (cx - vx) / s, vy + (cy - vy) / s
    aspect = h / w  # distances in fractions of the frame width
    return np.array([np.hypot(x - sx, (y - sy) * aspect)
                     for sx, sy in (layout.front_seats[k] for k in seats)])


def _side_cost(tr, views, frames_per_camera, frame_size, layout, seats):
    shot = _latest(tr, views, "side")
    if shot is None:
        return None
    w = frame_size[0]
    right = views[shot.camera].endswith("right")
    n = frames_per_camera.get(shot.camera, 1)
    drift = layout.side_drift_px * (n - 1 - shot.frame)
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
