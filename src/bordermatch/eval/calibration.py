"""Build the shipped ``bordermatch/data/calibration.json`` from LFW embeddings.

The logistic calibration, fusion and cascade band are fitted on all 6,000 View-2 pairs.
Thresholds for FMR 1e-3, 1e-4 and 1e-5 come from every comparison between images of two
different people among the embedded images (tens of millions), because View 2's 3,000
impostors cannot support an FMR below 1/3,000. The file records the count behind each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from bordermatch.eval import metrics
from bordermatch.eval.fit import apply, fit_matchers, matcher_spec, score_pairs
from bordermatch.eval.lfw import (
    LARGE_FMRS,
    Pair,
    impostor_scores,
    operating_thresholds,
    pair_scores,
    widen_band,
)
from bordermatch.eval.lfw_embed import STATUS_FTE, Embeddings
from bordermatch.match.calibrate import threshold_for_rate
from bordermatch.match.fusion import Matcher


def build_calibration(pairs: Sequence[Pair], emb: Embeddings, margin: float,
                      provenance: dict, band_fmrs: Sequence[float] = LARGE_FMRS) -> dict:
    scores = pair_scores(pairs, emb)
    labels = scores.genuine.astype(np.float64)
    big = impostor_scores(emb, np.arange(len(emb.names)))
    fitted = fit_matchers(scores.raw, labels)
    fused_pairs = apply(fitted.fusion.primary, scores.raw)
    ts = operating_thresholds(fused_pairs[scores.genuine], fused_pairs[~scores.genuine],
                           apply(fitted.fusion.primary, big), band_fmrs)
    fitted = widen_band(
        fit_matchers(scores.raw, labels, band_thresholds=ts, margin=margin), big, ts, margin)
    matchers = {}
    for name, m in fitted.as_dict().items():
        s_big, _ = score_pairs(m, big)
        s_pairs, second = score_pairs(m, scores.raw)
        thresholds = tuple((f, threshold_for_rate(s_big, f)) for f in LARGE_FMRS)
        spec = matcher_spec(Matcher(m.name, m.primary, m.fused, m.band, thresholds))
        gen = s_pairs[scores.genuine]
        spec["meaning"] = {
            f"{f:g}": {
                "threshold": t,
                "impostor_comparisons": int(s_big.size),
                "impostor_errors_allowed": int(np.floor(f * s_big.size * (1 + 1e-9))),
                "tar_view2_genuine": 1.0 - metrics.fnmr(gen, t),
            }
            for f, t in thresholds
        }
        if m.fused is not None and m.band is not None:
            spec["meaning"]["view2_pairs_needing_second"] = float(second.mean())
        matchers[name] = spec
    return {
        "source": "fitted by `bordermatch eval calibrate` on LFW View 2 (see provenance)",
        "scale": "calibrated log-odds that a pair is genuine (equal priors); "
                 "higher = more similar; match when score >= threshold",
        "provenance": {
            **provenance,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fit_pairs": len(pairs),
            "images": len(emb.names),
            "images_without_face": int(np.sum(emb.status == STATUS_FTE)),
            "impostor_comparisons": int(next(iter(big.values())).size),
            "cascade_band_margin": margin,
            "cascade_band_fmrs": list(band_fmrs),
        },
        "matchers": matchers,
    }
