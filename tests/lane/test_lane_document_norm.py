"""The document stage on normalised scores (lane.pipeline, match.normalise): the decision
is the z-value rule, told on the calibrated scale; a gallery too small for a cohort falls
back to the raw point."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from tests.lane.test_lane_pipeline import _degraded, _event, _pipeline, _templates

from bordermatch.errors import ConfigError
from bordermatch.lane.events import DocumentRead
from bordermatch.lane.operating_points import choose_document_point
from bordermatch.lane.runner import load_event
from bordermatch.match.cohort import Cohort, WholeGallery
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.normalise import MIN_COHORT
from bordermatch.match.search import GallerySearch
from bordermatch.types import Outcome

RAW = OperatingPoint("fake", "FMR", 1e-3, match=0.8)
READ = (DocumentRead("C", "P-RED", "USA", "rfid"),)


def _cohort(n: int) -> np.ndarray:
    """Travellers who score about -0.3 to 0.5 against both captures: no cohort traveller
    looks like an occupant, and both captures have a cohort spread of their own."""
    rng = np.random.default_rng(7)
    basis, _ = np.linalg.qr(_templates().T)  # the span of the two captures
    v = rng.normal(size=(n, basis.shape[0]))
    v -= (v @ basis) @ basis.T
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    a = rng.uniform(-0.3, 0.45, size=(n, 2))
    rest = np.sqrt(1 - (a * a).sum(1, keepdims=True))
    return (a @ basis.T + rest * v).astype(np.float32)


def _lane(tmp_path, cohort: int, z: float | None, norm: str = "tnorm", **cfg):
    refs = _degraded(_templates(), 0.85)
    ids = _ids(cohort)
    gallery = np.vstack([refs, _cohort(cohort)])
    pipe = _pipeline(ids, gallery, **({"document_norm": norm} | cfg))
    pipe.documents = {("P-RED", "USA"): "RED"}
    normed = None if z is None else OperatingPoint("fake", "FMR", 1e-3, match=z,
                                                   normalisation=norm)
    pipe.document_point = choose_document_point((normed, RAW), "fake",
                                                pipe.config.document_norm, len(pipe.search))
    event, frames = load_event(_event(tmp_path), pipe)
    return pipe, replace(event, documents=READ), frames, gallery


def _red_z(gallery: np.ndarray, norm: str) -> tuple[float, float, float]:
    """RED's capture against RED: its raw score, and the slope and offset that put it on
    ``norm``'s scale (the row's mean and spread; for S-norm also RED's reference cohort)."""
    row = (gallery @ _templates()[0]).astype(np.float64)
    slope, offset = 1 / row.std(), -row.mean() / row.std()
    if norm == "snorm":
        search = GallerySearch(_ids(len(gallery) - 2), gallery)
        cm, cs = Cohort.of(search).column_stats(search)
        slope = 0.5 / row.std() + 0.5 / cs[0]
        offset = -0.5 * (row.mean() / row.std() + cm[0] / cs[0])
    return float(row[0]), float(slope), float(offset)


def _ids(cohort: int) -> list[str]:
    return ["RED", "BLUE", *(f"C{i}" for i in range(cohort))]


@pytest.mark.parametrize("norm", ["tnorm", "snorm"])
@pytest.mark.parametrize("margin", [-0.2, 0.2])
def test_the_z_threshold_decides_and_the_record_shows_the_tracks_own_raw_threshold(
        tmp_path, margin, norm):
    probe = _lane(tmp_path, MIN_COHORT, None, norm)[3]
    raw, slope, offset = _red_z(probe, norm)
    z = raw * slope + offset
    pipe, event, frames, _ = _lane(tmp_path, MIN_COHORT, z + margin, norm)
    assert pipe.document_norm == norm
    got = {o.traveler_id: o for o in pipe.process(event, frames).occupants}
    # RED's raw score clears the raw point (0.8) either way: the z-value decides.
    assert raw > RAW.match
    if margin > 0:  # not verified 1:few, and the 1:N search cannot: nobody matched
        assert "RED" not in got and all(o.decision is Outcome.NO_MATCH for o in got.values())
        return
    red = got["RED"]
    assert (red.decision, red.source, red.detail.scale) == (Outcome.MATCH, "document", norm)
    # On the calibrated scale: the raw top-2 score, against this track's own threshold
    # for RED (the capture differs a little from the fake's template of the same colours).
    assert red.score == pytest.approx(raw, abs=0.01)
    assert red.detail.threshold == pytest.approx((z + margin - offset) / slope, abs=0.01)
    assert red.score >= red.detail.threshold > RAW.match


def test_a_small_gallery_uses_the_raw_point_and_without_one_is_refused(tmp_path):
    pipe, event, frames, _ = _lane(tmp_path, 10, 5.0)
    assert pipe.document_point == RAW and pipe.document_norm is None
    red = {o.traveler_id: o for o in pipe.process(event, frames).occupants}["RED"]
    assert (red.decision, red.detail.scale, red.detail.threshold) == (Outcome.MATCH, None, 0.8)
    tnorm = OperatingPoint("fake", "FMR", 1e-3, match=5.0, normalisation="tnorm")
    with pytest.raises(ConfigError, match="need a gallery of at least"):
        choose_document_point((tnorm, None), "fake", "tnorm", len(pipe.search))


def test_document_norm_none_keeps_raw_scores_with_a_large_gallery(tmp_path):
    pipe, event, frames, _ = _lane(tmp_path, MIN_COHORT, 5.0, document_norm=None)
    assert pipe.document_point == RAW
    pipe.gallery = WholeGallery(GallerySearch(pipe.search.ids, pipe.search.vectors))
    red = {o.traveler_id: o for o in pipe.process(event, frames).occupants}["RED"]
    assert red.decision is Outcome.MATCH and red.detail.threshold == 0.8
