"""Tracklets within a camera and clustering across cameras."""

from __future__ import annotations

import numpy as np
from tests.fakes import make_face

from bordermatch.lane.track import Shot, Tracklet, cluster_tracklets, fuse_vectors, link_frames


def _shot(cam, frame, x, y, size=60, vec=None, q=50.0):
    return Shot(cam, frame, make_face(x, y, size), q, vec)


def _vec(axis, d=8):
    v = np.zeros(d, np.float32)
    v[axis] = 1.0
    return v


def test_two_people_moving_side_by_side_stay_two_tracklets():
    frames = [[_shot("c", k, 100 + 30 * k, 200, 60), _shot("c", k, 300 + 30 * k, 200, 60)]
              for k in range(4)]
    tracks = link_frames(frames, "c")
    assert len(tracks) == 2
    for t in tracks:
        xs = [s.face.box[0] for s in t.shots]
        assert len(t.shots) == 4 and xs == sorted(xs)
        assert max(xs) - min(xs) == 90  # each follows its own person


def test_a_missed_frame_does_not_split_a_tracklet():
    frames = [[_shot("c", 0, 100, 100)], [], [_shot("c", 2, 130, 100)]]
    assert len(link_frames(frames, "c")) == 1


def test_a_jump_or_size_change_starts_a_new_tracklet():
    frames = [[_shot("c", 0, 100, 100, 60)], [_shot("c", 1, 600, 100, 60)],
              [_shot("c", 2, 600, 100, 200)]]
    assert len(link_frames(frames, "c")) == 3


def test_clustering_joins_cameras_by_appearance_but_never_overlapping_tracklets():
    a, b = _vec(1), _vec(2)
    t_front_a = Tracklet("front", [_shot("front", 0, 0, 0, vec=a)])
    t_side_a = Tracklet("left", [_shot("left", 0, 0, 0, vec=a + 0.1 * b)])
    t_side_b = Tracklet("left", [_shot("left", 1, 0, 0, vec=b)])
    # Same camera and same frame as t_side_a, and identical looks: still two people.
    twin = Tracklet("left", [_shot("left", 0, 300, 0, vec=a + 0.1 * b)])
    tracks = cluster_tracklets([t_front_a, t_side_a, t_side_b, twin], link_threshold=0.5)
    groups = sorted(sorted(id(t) for t in tr.tracklets) for tr in tracks)
    assert len(tracks) == 3
    assert sorted([id(t_front_a), id(t_side_a)]) in groups or \
        sorted([id(t_front_a), id(twin)]) in groups
    assert [id(t_side_b)] in groups


def test_fusion_weights_better_shots_more():
    a, b = _vec(1), _vec(2)
    shots = [_shot("c", 0, 0, 0, vec=a, q=90.0), _shot("c", 1, 0, 0, vec=b, q=10.0)]
    fused = fuse_vectors(shots)
    assert float(fused @ a) > float(fused @ b)
    assert np.isclose(np.linalg.norm(fused), 1.0)
    assert np.allclose(fuse_vectors(shots, top_k=1), a)
    assert fuse_vectors([_shot("c", 0, 0, 0)]) is None
