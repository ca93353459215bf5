"""A lane on an index's shortlist (service.galleries.ShortlistedLane) in the cases where a
shortlist could read less of a row than the decision does: travellers with many
references ahead of a third track's traveller, a tie between two identities of one face
enrolled out of id order, a drawn cohort, and the fusions a shortlist cannot serve."""

from __future__ import annotations

import numpy as np
import pytest
from tests.fakes import FakeDetector, FakeEmbedder, FakeQuality

from bordermatch.errors import ConfigError
from bordermatch.index.flat import FlatIndex
from bordermatch.lane.pipeline import LaneConfig, LanePipeline
from bordermatch.lane.track import Shot, Track, Tracklet
from bordermatch.match import cohort as cohort_module
from bordermatch.match.cohort import Cohort
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import LogisticScore
from bordermatch.service.galleries import LoadedTemplates, StoredGallery
from bordermatch.types import Face, Outcome

DIM = 16
SCALE = LogisticScore((("fake", 1.0),), 0.0)  # scores are cosines
POINT = OperatingPoint("fake", "FPIR", 1e-3, match=0.6, review=0.45, review_target=1e-2)
FACE = Face(np.array([0, 0, 60, 60], np.float32), np.zeros((5, 2), np.float32), 0.9)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _near(v: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(v.shape).astype(np.float32)
    noise = _unit(noise - (noise @ v) * v)
    return _unit(cos * v + np.sqrt(1 - cos * cos) * noise)


def _stored(eids: list[str], owners: list[str], vectors: np.ndarray) -> StoredGallery:
    index = FlatIndex(DIM)
    index.add(eids, vectors)
    return StoredGallery(index, dict(zip(eids, owners, strict=True)), {},
                         LoadedTemplates(eids, vectors))


def _track(track_id: int, vectors: list[np.ndarray]) -> Track:
    shots = [Shot("ws", k, FACE, 80.0 - k, _unit(v)) for k, v in enumerate(vectors)]
    return Track(track_id, (Tracklet("ws", shots),))  # same camera, same frames: no merge


def _pipe(gallery, fusion: str = "max_score") -> LanePipeline:
    return LanePipeline(FakeDetector([]), FakeEmbedder(dim=DIM), FakeQuality(60.0), gallery,
                        POINT, SCALE, LaneConfig(fusion=fusion, document_norm=None))


def _decisions(stored: StoredGallery, tracks: list[Track], k: int) -> list[list[tuple]]:
    out = []
    for lane in (stored.lane(None), stored.lane(k)):
        occupants, _ = _pipe(lane).decide(tracks, {}, ())
        out.append([(o.track_id, o.traveler_id, o.decision, o.reason, o.runner_up_id,
                     None if o.score is None else round(o.score, 5)) for o in occupants])
    return out


def test_travellers_with_many_references_do_not_hide_a_third_tracks_traveller():
    """Ten references name two travellers; the assignment gives the third track its own
    third-best traveller, whom the shortlist must go deeper to find."""
    rng = np.random.default_rng(5)
    probe = _unit(rng.standard_normal(DIM))
    eids, owners, rows = [], [], []
    for name, cos, n in (("A", 0.85, 6), ("B", 0.75, 6), ("C", 0.62, 1)):
        for j in range(n):
            eids.append(f"{name}{j}")
            owners.append(name)
            rows.append(_near(probe, cos + 0.01 * j / n, rng))
    for i in range(100):
        eids.append(f"z{i}")
        owners.append(f"Z{i:03d}")
        rows.append(_near(probe, 0.0, rng))
    stored = _stored(eids, owners, np.stack(rows))
    whole, short = _decisions(stored, [_track(i, [probe]) for i in range(3)], k=10)
    assert short == whole
    assert [d[1] for d in whole] == ["A", "B", "C"]
    assert whole[2][2] is Outcome.REVIEW  # C: a runner-up the shortlist must hold too


def test_a_tie_between_two_identities_breaks_as_on_the_whole_gallery():
    """One photo enrolled as ZED and then ADA (out of id order, one reference each)."""
    rng = np.random.default_rng(1)
    face = _unit(rng.standard_normal(DIM))
    others = _unit(rng.standard_normal((50, DIM)))
    stored = _stored(["e1", "e2", *(f"z{i}" for i in range(50))],
                     ["ZED", "ADA", *(f"P{i:02d}" for i in range(50))],
                     np.vstack([face, face, others]))
    whole, short = _decisions(stored, [_track(0, [_near(face, 0.9, rng)])], k=10)
    assert short == whole and whole[0][1] == "ZED" and whole[0][4] == "ADA"


def test_a_drawn_cohort_is_the_whole_gallerys(monkeypatch):
    """Past the cohort sizes, the stored gallery draws the same travellers and photos as
    one held in memory, and reads each template once."""
    monkeypatch.setattr(cohort_module, "COHORT_TRAVELLERS", 7)
    monkeypatch.setattr(cohort_module, "COHORT_REFERENCES", 9)
    rng = np.random.default_rng(4)
    owners = [f"T{(7 * i) % 23:02d}" for i in range(40)]  # 23 travellers, out of id order
    eids = [f"e{i:02d}" for i in range(40)]
    stored = _stored(eids, owners, _unit(rng.standard_normal((40, DIM))))
    reads: list[int] = []
    vectors = stored.templates.vectors

    def counted(ids):
        reads.append(len(ids))
        return vectors(ids)

    monkeypatch.setattr(stored.templates, "vectors", counted)
    drawn = stored.cohort()
    memory = Cohort.of(stored.search)
    assert drawn.rows.ids == memory.rows.ids and len(drawn) == 7
    assert np.array_equal(drawn.rows.vectors, memory.rows.vectors)
    assert list(drawn.owners) == list(memory.owners) and len(drawn.references) == 9
    assert np.array_equal(drawn.references, memory.references)
    assert len(reads) == 1 and reads[0] <= len(drawn.rows.vectors) + 9


@pytest.mark.parametrize("fusion", ["template", "top2_mean"])
def test_a_shortlist_refuses_fusions_that_average_shots(fusion):
    stored = _stored(["e0"], ["T0"], _unit(np.ones((1, DIM))))
    with pytest.raises(ConfigError, match="max_score or best_shot"):
        _pipe(stored.lane(10), fusion)
    _pipe(stored.lane(None), fusion)  # the whole gallery scores every traveller anyway
