"""Verification accuracy on an FVC-style folder (``<finger>_<impression>.<ext>``).

Protocol: every image is enrolled once; every unordered pair of images is compared once
(image with the smaller (finger, impression) as probe). Pairs of the same finger are genuine
(mated), pairs of different fingers impostor (non-mated). This uses all cross-finger pairs,
not FVC's first-impression-only impostors, because FVC's 120 impostors for 16 fingers could
not measure an FMR of 1e-3. Metrics come from :mod:`bordermatch.eval.metrics` (ISO/IEC
19795-1 terms; ties at the threshold match).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ManifestError
from bordermatch.eval.metrics import eer, fnmr
from bordermatch.fingerprint.capture import NOMINAL_PPI, load_fingerprint
from bordermatch.fingerprint.match import Bozorth3, Comparator
from bordermatch.fingerprint.minutiae import FingerTemplate, extract_template
from bordermatch.match.calibrate import threshold_for_rate

__all__ = ["FVC_NAME", "FvcScores", "compare_all", "fvc_images", "summarise"]

FVC_NAME = re.compile(r"^(?P<finger>\d+)_(?P<impression>\d+)\.(png|tif|tiff|jpg|jpeg|wsq)$",
                      re.IGNORECASE)


def fvc_images(folder: str | Path, max_fingers: int | None = None,
               max_impressions: int | None = None) -> list[tuple[int, int, Path]]:
    """(finger, impression, path) of every FVC-named image, sorted; ManifestError if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"{folder}: not a directory")
    found = []
    for path in folder.iterdir():
        m = FVC_NAME.match(path.name)
        if m:
            found.append((int(m["finger"]), int(m["impression"]), path))
    found.sort()
    if max_fingers is not None:
        keep = sorted({f for f, _, _ in found})[:max_fingers]
        found = [r for r in found if r[0] in keep]
    if max_impressions is not None:
        found = [r for r in found if r[1] <= max_impressions]
    if not found:
        raise ManifestError(f"{folder}: no <finger>_<impression> fingerprint images")
    return found


@dataclass(frozen=True, slots=True, eq=False)
class FvcScores:
    genuine: NDArray[np.float64]
    impostor: NDArray[np.float64]
    n_images: int
    extract_s: float
    compare_s: float


def compare_all(images: list[tuple[int, int, Path]], comparator: Comparator | None = None,
                declared_ppi: float = NOMINAL_PPI,
                extract: Callable[..., FingerTemplate] = extract_template,
                progress: Callable[[int, int], None] | None = None) -> FvcScores:
    """Every pair of images compared; ``progress(done, total)`` counts the images extracted,
    then the comparisons made."""
    comparator = comparator or Bozorth3()
    n = len(images)
    total = n + n * (n - 1) // 2
    t0 = time.perf_counter()
    prepared = []
    for k, (_, _, p) in enumerate(images, start=1):
        prepared.append(comparator.prepare(extract(load_fingerprint(p, declared_ppi))))
        if progress:
            progress(k, total)
    t1 = time.perf_counter()
    genuine: list[float] = []
    impostor: list[float] = []
    done = n
    for i, (fi, _, _) in enumerate(images):
        for j in range(i + 1, len(images)):
            score = comparator.compare(prepared[i], prepared[j])
            (genuine if images[j][0] == fi else impostor).append(score)
        done += n - i - 1
        if progress:
            progress(done, total)
    t2 = time.perf_counter()
    if not genuine or not impostor:
        raise ManifestError("need at least two fingers with two impressions each")
    return FvcScores(np.asarray(genuine), np.asarray(impostor), len(images), t1 - t0, t2 - t1)


def summarise(scores: FvcScores, target_fmr: float = 1e-3) -> dict[str, float | int | None]:
    """The figures ``bordermatch fingerprint eval`` prints. ``fnmr_at_fmr_1e-3`` is None when
    there are too few impostors to calibrate that FMR (fewer than 1,000)."""
    rate, eer_threshold = eer(scores.genuine, scores.impostor)
    at_target: float | None
    threshold: float | None
    if target_fmr * scores.impostor.size >= 1 - 1e-9:
        t = threshold_for_rate(scores.impostor, target_fmr)
        at_target, threshold = fnmr(scores.genuine, t), t
    else:
        at_target = threshold = None
    n_cmp = scores.genuine.size + scores.impostor.size
    return {
        "eer": rate,
        "eer_threshold": eer_threshold,
        f"fnmr_at_fmr_{target_fmr:g}": at_target,
        f"threshold_at_fmr_{target_fmr:g}": threshold,
        "genuine": int(scores.genuine.size),
        "impostor": int(scores.impostor.size),
        "images": scores.n_images,
        "extract_s": round(scores.extract_s, 3),
        "compare_s": round(scores.compare_s, 3),
        "extract_ms_per_image": round(1e3 * scores.extract_s / scores.n_images, 2),
        "comparisons_per_s": round(n_cmp / scores.compare_s, 1) if scores.compare_s else None,
    }
