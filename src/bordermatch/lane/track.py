"""Occupant tracks: detections of one person linked across frames and across cameras.

Two stages, because they have different evidence:

1. Within one camera the car moves smoothly, so a face in frame k+1 is near its place in
   frame k and has a similar size. Geometry alone links shots into *tracklets* (optimal
   assignment on normalised centre distance, gated by distance and size ratio).
2. Across cameras geometry is unknown, so tracklets are joined by appearance: agglomerative
   clustering on the cosine similarity of tracklet templates (average linkage), with a
   cannot-link rule: two tracklets from the same camera that overlap in time are two
   people, whatever they look like. Merging stops at ``link_threshold``, measured on
   simulated lanes (docs/lane.md) so that two people are (almost) never merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from bordermatch.types import Face, Quality


@dataclass(frozen=True, slots=True, eq=False)
class Shot:
    camera: str
    frame: int  # index of the frame within its camera
    face: Face
    quality: float  # unified quality, 0-100
    vector: NDArray[np.float32] | None = None  # template, when this shot was embedded
    measures: Quality | None = None  # every quality component (shown to a reviewing officer)

    @property
    def centre(self) -> NDArray[np.float32]:
        return np.array([(self.face.box[0] + self.face.box[2]) / 2,
                         (self.face.box[1] + self.face.box[3]) / 2], np.float32)


@dataclass(slots=True, eq=False)
class Tracklet:
    camera: str
    shots: list[Shot] = field(default_factory=list)

    @property
    def frames(self) -> set[int]:
        return {s.frame for s in self.shots}

    @property
    def last(self) -> Shot:
        return self.shots[-1]

    def template(self) -> NDArray[np.float32] | None:
        return fuse_vectors([s for s in self.shots if s.vector is not None])


@dataclass(frozen=True, slots=True, eq=False)
class Track:
    """One occupant: the tracklets (from one or more cameras) believed to be one person."""

    track_id: int
    tracklets: tuple[Tracklet, ...]

    @property
    def shots(self) -> list[Shot]:
        return [s for t in self.tracklets for s in t.shots]

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(sorted({t.camera for t in self.tracklets}))

    @property
    def best_quality(self) -> float:
        return max(s.quality for s in self.shots)


def fuse_vectors(shots: Sequence[Shot], top_k: int | None = None) -> NDArray[np.float32] | None:
    """Quality-weighted mean of the L2-normalised templates of the best ``top_k`` shots."""
    shots = sorted((s for s in shots if s.vector is not None), key=lambda s: -s.quality)
    if top_k is not None:
        shots = shots[:top_k]
    if not shots:
        return None
    w = np.array([max(s.quality, 1.0) for s in shots], np.float32)
    # Shots without a vector were dropped above.
    v = (np.stack([s.vector for s in shots]) * w[:, None]).sum(0)  # type: ignore[misc]
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def link_frames(shots_by_frame: Sequence[Sequence[Shot]], camera: str, *, gate: float = 1.6,
                max_size_ratio: float = 1.6, max_gap: int = 1) -> list[Tracklet]:
    """Tracklets of one camera from its shots, frame by frame (optimal assignment)."""
    from scipy.optimize import linear_sum_assignment

    tracklets: list[Tracklet] = []
    for k, shots in enumerate(shots_by_frame):
        live = [t for t in tracklets if k - t.last.frame <= max_gap + 1 and t.last.frame < k]
        cost = np.full((len(live), len(shots)), np.inf)
        for i, t in enumerate(live):
            prev = t.last
            for j, s in enumerate(shots):
                size = max(prev.face.width, s.face.width, 1.0)
                ratio = size / max(min(prev.face.width, s.face.width), 1.0)
                dist = float(np.linalg.norm(prev.centre - s.centre)) / size
                allowed = gate * (k - prev.frame)
                if ratio <= max_size_ratio and dist <= allowed:
                    cost[i, j] = dist + 0.5 * (ratio - 1.0)
        used = set()
        if live and shots:
            finite = np.where(np.isfinite(cost), cost, 1e6)
            for i, j in zip(*linear_sum_assignment(finite), strict=True):
                if np.isfinite(cost[i, j]):
                    live[i].shots.append(shots[j])
                    used.add(int(j))
        tracklets += [Tracklet(camera, [s]) for j, s in enumerate(shots) if j not in used]
    return tracklets


def cluster_tracklets(tracklets: Sequence[Tracklet], link_threshold: float) -> list[Track]:
    """Join tracklets of one person across cameras; see the module docstring."""
    groups: list[list[Tracklet]] = [[t] for t in tracklets]
    vecs = [t.template() for t in tracklets]
    idx = [[i] for i in range(len(tracklets))]
    n = len(tracklets)
    sim = np.full((n, n), -np.inf)
    for i in range(n):
        for j in range(i + 1, n):
            vi, vj = vecs[i], vecs[j]
            if vi is not None and vj is not None:
                sim[i, j] = sim[j, i] = float(vi @ vj)
    while len(groups) > 1:
        best, pair = link_threshold, None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if _conflict(groups[a], groups[b]):
                    continue
                s = float(np.mean([sim[i, j] for i in idx[a] for j in idx[b]]))
                if s >= best:
                    best, pair = s, (a, b)
        if pair is None:
            break
        a, b = pair
        groups[a] += groups.pop(b)
        idx[a] += idx.pop(b)
    # Order tracks by their best shot's quality so track ids are stable and meaningful.
    groups.sort(key=lambda g: -max(s.quality for t in g for s in t.shots))
    return [Track(i + 1, tuple(g)) for i, g in enumerate(groups)]


def _conflict(a: Sequence[Tracklet], b: Sequence[Tracklet]) -> bool:
    """True when some same-camera pair overlaps in time: they are two people."""
    return any(x.camera == y.camera and x.frames & y.frames for x in a for y in b)


def can_merge(a: Track, b: Track) -> bool:
    return not _conflict(a.tracklets, b.tracklets)
