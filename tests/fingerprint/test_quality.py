from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from tests.fingerprint.fp_helpers import encode

from bordermatch.errors import NotAFingerprintError
from bordermatch.fingerprint.capture import decode_fingerprint, load_fingerprint
from bordermatch.fingerprint.quality import (
    FingerprintQuality,
    Nfiq2Assessor,
    check_is_fingerprint,
    needs_recapture,
)


def _q(**kw) -> FingerprintQuality:
    base = dict(score=60, uniform_image=50.0, mean_grey=180.0, minutiae_count=40.0,
                foreground_pixels=90_000.0)
    return FingerprintQuality(**{**base, **kw})


def test_recapture_threshold_is_inclusive():
    assert needs_recapture(_q(score=29), 30)
    assert not needs_recapture(_q(score=30), 30)


@pytest.mark.parametrize("kw", [dict(uniform_image=0.5), dict(mean_grey=252.0),
                                dict(minutiae_count=4.0), dict(foreground_pixels=40_000.0),
                                dict(minutiae_count=math.nan)])
def test_actionable_feedback_rules_out_non_fingerprints(kw):
    with pytest.raises(NotAFingerprintError) as err:
        check_is_fingerprint(_q(**kw))
    assert err.value.code == "not_a_fingerprint"


def test_actionable_feedback_passes_a_plausible_print():
    check_is_fingerprint(_q())


def test_nfiq2_on_shared_images(fp_data, nbis_backend):
    a = Nfiq2Assessor()
    good = a.assess(load_fingerprint(fp_data / "upek" / "1_1.png"))
    poorer = a.assess(load_fingerprint(fp_data / "fvc2002_db1_samples" / "101_2.tif"))
    assert 0 <= poorer.score < good.score <= 100
    assert good.algorithm == "NFIQ 2 v2.3.0"


@pytest.mark.parametrize("kind", ["white", "noise", "photo"])
def test_non_fingerprints_are_refused(nbis_backend, kind):
    rng = np.random.default_rng(0)
    if kind == "white":
        arr = np.full((300, 300), 255, np.uint8)
    elif kind == "noise":
        arr = rng.integers(0, 256, (300, 300)).astype(np.uint8)
    else:
        arr = pytest.importorskip("skimage.data").camera()
    with pytest.raises(NotAFingerprintError):
        Nfiq2Assessor().assess(decode_fingerprint(encode(arr)))


# NIST's reference output for its NFIQ 2 example images (usnistgov/NFIQ2,
# examples/output/SFinGe_Test0N_output.txt). The images are not in the project; point
# BORDERMATCH_NFIQ2_EXAMPLES at a checkout's examples/ folder to run this.
@pytest.mark.skipif(not os.environ.get("BORDERMATCH_NFIQ2_EXAMPLES"),
                    reason="BORDERMATCH_NFIQ2_EXAMPLES not set")
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_nfiq2_agrees_with_nist_reference_output(nbis_backend, n):
    root = Path(os.environ["BORDERMATCH_NFIQ2_EXAMPLES"])
    ref_lines = (root / "output" / f"SFinGe_Test0{n}_output.txt").read_text().splitlines()
    ref = {k: float(v) for k, v in (line.split(": ") for line in ref_lines if ": " in line)}
    image = (root / "images" / f"SFinGe_Test0{n}.pgm").read_bytes()
    got = Nfiq2Assessor().features(image)
    assert got["UnifiedQualityScore"] == ref["UnifiedQualityScore"]
    assert set(ref) <= set(got)
    for name, value in ref.items():
        assert got[name] == pytest.approx(value, rel=1e-3, abs=1e-4), name
