"""Building calibration.json from embeddings, and the shipped file's contents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bordermatch.eval.calibration import build_calibration
from bordermatch.eval.lfw import Pair, run_protocol
from bordermatch.eval.lfw_embed import STATUS_FTE, STATUS_OK, Embeddings
from bordermatch.match.fusion import load_calibration, load_matcher, matcher_from_spec

MATCHERS = ("sface", "dlib", "fusion", "cascade")


def synthetic_lfw(people: int = 60, per_person: int = 3, folds: int = 3, seed: int = 0):
    """Embeddings for fake people (identity direction + noise) and View-2-like pairs."""
    rng = np.random.default_rng(seed)
    names, vecs = [], {"sface": [], "dlib": []}
    for p in range(people):
        ident = rng.normal(size=(2, 128))
        for k in range(per_person):
            names.append(f"P{p:03d}/P{p:03d}_{k + 1:04d}.jpg")
            for j, m in enumerate(vecs):
                v = ident[j] + rng.normal(scale=1.1 + 0.2 * j, size=128)
                vecs[m].append(v / np.linalg.norm(v))
    status = np.full(len(names), STATUS_OK, np.int8)
    status[-1] = STATUS_FTE  # one image without a face
    emb = Embeddings(tuple(names), {m: np.array(v, np.float32) for m, v in vecs.items()},
                     status, np.full((len(names), 3), 0.01, np.float32))
    pairs = []
    per_fold = people // folds
    for f in range(folds):
        ids = range(f * per_fold, (f + 1) * per_fold)
        for p in ids:
            pairs.append(Pair(f, f"P{p:03d}/P{p:03d}_0001.jpg", f"P{p:03d}/P{p:03d}_0002.jpg",
                              True))
        for p in ids:
            q = f * per_fold + (p + 1 - f * per_fold) % per_fold
            pairs.append(Pair(f, f"P{p:03d}/P{p:03d}_0003.jpg", f"P{q:03d}/P{q:03d}_0001.jpg",
                              False))
    return pairs, emb


def test_protocol_on_synthetic_data():
    pairs, emb = synthetic_lfw()
    result = run_protocol(pairs, emb, margin=0.5)
    assert result.folds == 3 and result.n_pairs == len(pairs)
    assert result.n_fte_pairs == 1
    for name in MATCHERS:
        r = result.matchers[name]
        assert len(r.fold_accuracy) == 3 and 0.5 < r.accuracy_mean <= 1.0
        assert 1e-3 in r.large_tar  # a few thousand impostors support FMR 1e-3
    assert 0 < np.mean(result.matchers["cascade"].fold_second) < 1
    assert result.cost_per_pair_ms("cascade") < result.cost_per_pair_ms("fusion")


def test_built_calibration_loads_as_matchers(tmp_path):
    pairs, emb = synthetic_lfw(people=150)  # 150 x 3 images: ~100k impostor comparisons
    cal = build_calibration(pairs, emb, margin=0.5, provenance={"data": "synthetic"})
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(cal))
    for name in MATCHERS:
        m = load_matcher(name, path)
        t3, t4, t5 = m.threshold(1e-3), m.threshold(1e-4), m.threshold(1e-5)
        assert t3 < t4 <= t5
        meaning = cal["matchers"][name]["meaning"]
        assert meaning["1e-05"]["impostor_comparisons"] >= 100_000
    cascade = load_matcher("cascade", path)
    assert cascade.band is not None and cascade.second_models == ("dlib",)
    assert cal["provenance"]["images_without_face"] == 1


def test_shipped_calibration_is_fitted():
    cal = load_calibration()
    assert "TEMPORARY" not in cal.get("source", "")
    prov = cal["provenance"]
    assert prov["impostor_comparisons"] > 10_000_000 and prov["fit_pairs"] == 6000
    for name in MATCHERS:
        spec = cal["matchers"][name]
        m = matcher_from_spec(name, spec)
        assert [f for f, _ in m.thresholds] == pytest.approx([1e-5, 1e-4, 1e-3])
        assert spec["meaning"]["0.0001"]["impostor_comparisons"] > 10_000_000
