"""T-normalisation of 1:1 scores by the probe's own cohort scores (match.normalise)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bordermatch.errors import ConfigError
from bordermatch.match.decide import OperatingPoint, decide
from bordermatch.match.normalise import MIN_COHORT, normalise, s_norm, t_norm, usable


def test_each_row_becomes_z_values_of_its_own_scores():
    rng = np.random.default_rng(1)
    s = np.vstack([rng.normal(0.1, 0.05, MIN_COHORT), rng.normal(0.4, 0.2, MIN_COHORT)])
    z = t_norm(s.astype(np.float32))
    assert np.allclose(z.scores.mean(1), 0, atol=1e-5)
    assert np.allclose(z.scores.std(1), 1, atol=1e-4)
    # The same raw score is worth more against a probe that scores everyone low.
    s[:, 0] = 0.5
    z = t_norm(s.astype(np.float32))
    assert z.scores[0, 0] > 5 > z.scores[1, 0]
    # raw() maps a z-value back: the threshold of this probe on the raw scale.
    assert z.raw(0, 0, float(z.scores[0, 0])) == pytest.approx(0.5, abs=1e-5)


def test_a_constant_row_carries_no_evidence():
    z = t_norm(np.full((1, MIN_COHORT), -1.0, np.float32))
    assert np.all(z.scores == 0)


def test_a_cohort_too_small_is_refused_and_no_normalisation_passes_scores_through():
    s = np.zeros((2, MIN_COHORT - 1), np.float32)
    with pytest.raises(ConfigError, match="cohort of at least"):
        normalise(s, "tnorm")
    assert normalise(s, None).scores is not None and np.array_equal(normalise(s, None).scores, s)
    assert not usable("tnorm", MIN_COHORT - 1) and usable("tnorm", MIN_COHORT)
    with pytest.raises(ConfigError, match="normalisation must be one of"):
        usable("znorm", 10**6)


def test_an_operating_point_says_its_scale_and_its_decisions_carry_it(tmp_path):
    point = OperatingPoint("sface", "FMR", 1e-3, 4.5, samples=10**6, normalisation="tnorm")
    point.save(tmp_path / "p.json")
    assert OperatingPoint.load(tmp_path / "p.json") == point
    assert decide(5.0, point).scale == "tnorm"
    assert decide(5.0, OperatingPoint("sface", "FMR", 1e-3, 4.5)).scale is None
    bad = json.loads((tmp_path / "p.json").read_text()) | {"normalisation": "znorm"}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="normalisation must be one of"):
        OperatingPoint.load(tmp_path / "bad.json")


def test_s_norm_is_the_mean_of_the_row_and_the_column_z_values():
    rng = np.random.default_rng(3)
    s = rng.normal(0.2, 0.1, (3, MIN_COHORT)).astype(np.float32)
    cm, cs = rng.normal(0.2, 0.05, MIN_COHORT), rng.uniform(0.05, 0.2, MIN_COHORT)
    z = s_norm(s, cm, cs)
    t = t_norm(s).scores
    assert np.allclose(z.scores, 0.5 * (t + (s - cm) / cs), atol=1e-4)
    # Each pair maps back to its raw score: a threshold per track and traveller.
    assert z.raw(2, 7, float(z.scores[2, 7])) == pytest.approx(float(s[2, 7]), abs=1e-5)
    assert np.allclose(z.raw_scores(), s, atol=1e-5)
    with pytest.raises(ConfigError, match="needs each traveller's reference cohort"):
        normalise(s, "snorm")
    with pytest.raises(ConfigError, match="cohort columns"):
        s_norm(s, cm[:-1], cs[:-1])
