"""Vehicle lanes through the gallery's index (``service.galleries.ShortlistedLane``) against the
decision on the whole gallery: on a stored gallery of 260 synthetic SFace-sized travellers
(enough for the S-norm document point), vehicles of one to three tracks with documents read
for them, some stray, are decided alike on flat and Milvus Lite, and with a shared index
a lane process never loads the gallery."""

from __future__ import annotations

import numpy as np
import pytest
from tests.api.test_api_gate_candidates import (
    DIM,
    CountingBlobs,
    _gallery,
    _near,
    _populate,
    _unit,
)

from bordermatch.lane.events import DocumentRead
from bordermatch.lane.pipeline import LanePipeline
from bordermatch.lane.track import Shot, Track, Tracklet
from bordermatch.match.cohort import LaneGallery
from bordermatch.service.core import ServiceCore
from bordermatch.types import Face, Occupant, Outcome

TRAVELLERS = 260
_FACE = Face(np.array([0, 0, 60, 60], np.float32), np.zeros((5, 2), np.float32), 0.9)


def _track(track_id: int, vectors: list[np.ndarray]) -> Track:
    shots = [Shot("ws", k, _FACE, 80.0 - k, v.astype(np.float32))
             for k, v in enumerate(vectors)]
    return Track(track_id, (Tracklet("ws", shots),))


def _vehicles(refs: dict[str, list[np.ndarray]], seed: int = 3):
    """(tracks, reads) per vehicle: mated tracks of four shots at cosines from weak to
    strong, look-alikes of a flagged-free pair, strangers; the travellers' documents read,
    or none, or a stray card of someone not in the car."""
    rng = np.random.default_rng(seed)
    ids = sorted(refs)
    out = []
    for v in range(48):
        travellers = [ids[(11 * v + 5 * j) % len(ids)] for j in range(1 + v % 3)]
        if v % 8 == 0:
            travellers[0] = f"T{2 * (v % 10):03d}"  # one of a look-alike pair (0.8 apart)
        tracks = []
        for j, t in enumerate(travellers):
            base = 0.25 + 0.55 * ((v * 3 + j) % 16) / 15  # 0.25 .. 0.80
            ref = refs[t][j % len(refs[t])]
            tracks.append(_track(j, [_near(ref, min(base + d, 0.95), rng)
                                     for d in (0.0, -0.03, 0.02, -0.05)]))
        if v % 6 == 5:
            tracks.append(_track(len(tracks), list(_unit(rng.standard_normal((4, DIM))))))
        reads = [DocumentRead("P", f"D{t}", "USA", "rfid") for t in travellers]
        if v % 4 == 1:
            reads = []
        elif v % 4 == 2:
            reads.append(DocumentRead("P", f"D{ids[(v * 7 + 3) % len(ids)]}", "USA", "rfid"))
        out.append((tracks, reads))
    return out


def _pipeline(core: ServiceCore, lane: LaneGallery, documents) -> LanePipeline:
    engine, th = core.engine, core.thresholds
    return LanePipeline(engine.detector, engine.embedder(core.model), engine.quality, lane,
                        th.search, th.scale, documents=documents, document_point=th.document,
                        document_fallback=th.document_fallback)


def _decided(pipe: LanePipeline, vehicles) -> list[list[Occupant]]:
    return [pipe.decide(tracks, {}, reads)[0] for tracks, reads in vehicles]


def _key(o: Occupant) -> tuple:
    d = o.detail

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    assert d is not None
    return (o.track_id, o.traveler_id, o.decision, o.reason, o.source, o.runner_up_id,
            r(o.score), r(d.threshold), r(d.runner_up))


@pytest.mark.parametrize("backend", ["flat", "milvus"])
def test_vehicle_decisions_through_the_index_equal_the_whole_gallery(
        backend, make_core, sessions, blobs, admin, clock):
    gid = _gallery(sessions, admin, clock)
    refs = _populate(sessions, blobs, admin, clock, gid, n=TRAVELLERS)
    vehicles = _vehicles(refs)
    for k in (5, 50):
        core = make_core(backend, blobs, vehicle_search_candidates=k)
        stored = core.gallery(gid)
        short = _pipeline(core, stored.lane(core.settings.vehicle_search_candidates),
                          stored.documents)
        assert short.document_norm == "snorm"  # a cohort of 200+ travellers
        got = _decided(short, vehicles)
        if backend == "milvus":
            assert not stored.search_loaded  # nothing but candidates and the cohort read
        whole = _decided(_pipeline(core, stored.lane(None), stored.documents), vehicles)
        assert [[_key(o) for o in v] for v in got] == [[_key(o) for o in v] for v in whole]
        kinds = {(o.decision, o.source) for v in whole for o in v}
        assert {(Outcome.MATCH, "document"), (Outcome.MATCH, "gallery"),
                (Outcome.NO_MATCH, "gallery")} <= kinds
        assert any(o.decision is Outcome.REVIEW for v in whole for o in v)
        if core.shared_index is not None:
            core.shared_index.close()


def test_a_shortlisted_lane_reads_the_cohort_once_per_revision(
        make_core, sessions, blobs, admin, clock):
    counting = CountingBlobs(blobs.root, blobs.keyring)
    gid = _gallery(sessions, admin, clock)
    refs = _populate(sessions, counting, admin, clock, gid, n=TRAVELLERS)
    core = make_core("milvus", counting, vehicle_search_candidates=10)
    stored = core.gallery(gid)
    pipe = _pipeline(core, stored.lane(10), stored.documents)
    tracks, reads = _vehicles(refs)[3]
    counting.reads = 0
    pipe.decide(tracks, {}, reads)
    first = counting.reads  # the cohort (every reference: a gallery this small) + columns
    counting.reads = 0
    pipe.decide(tracks, {}, reads)
    assert 0 < counting.reads < len(stored.owners) / 4  # the candidates' templates only
    assert first - counting.reads == len(stored.owners)  # each cohort template read once
    assert not stored.search_loaded
