"""How a track's shots become one score per traveller (``LaneConfig.fusion``; measured:
docs/lane.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from bordermatch.lane.track import Shot, fuse_vectors
from bordermatch.match.search import GallerySearch

# How a track's shots (best quality first; at least one, all embedded) become one cosine per
# traveller.
ShotFusion = Callable[[GallerySearch, Sequence[Shot], int], NDArray[np.float32]]


def _fuse_template(search: GallerySearch, shots: Sequence[Shot], k: int) -> NDArray[np.float32]:
    v = fuse_vectors(shots, k)
    assert v is not None  # the shots are embedded (see ShotFusion)
    return search.scores(v)[0]


def _best_shot(search: GallerySearch, shots: Sequence[Shot], k: int) -> NDArray[np.float32]:
    v = shots[0].vector
    assert v is not None  # the shots are embedded (see ShotFusion)
    return search.scores(v)[0]


def _max_score(search: GallerySearch, shots: Sequence[Shot], k: int) -> NDArray[np.float32]:
    # The shots are embedded (see ShotFusion).
    return search.scores(np.stack([s.vector for s in shots[:k]])).max(0)  # type: ignore[misc]


def _top2_mean(search: GallerySearch, shots: Sequence[Shot], k: int) -> NDArray[np.float32]:
    # The mean of each traveller's two best shot scores: one lucky shot of an impostor no
    # longer decides alone, and a genuine face usually gives two good shots (docs/lane.md).
    s = search.scores(np.stack([s.vector for s in shots[:k]]))  # type: ignore[misc]
    if len(s) < 2:
        return s[0]
    top = np.partition(s, len(s) - 2, axis=0)[-2:]
    return top.mean(0)


FUSIONS: dict[str, ShotFusion] = {
    "template": _fuse_template, "best_shot": _best_shot, "max_score": _max_score,
    "top2_mean": _top2_mean}
# Search fusions whose rank-r traveller is among some shot's r best (match.cohort).
SHORTLIST_FUSIONS = ("max_score", "best_shot")
