"""Face detection accuracy on WIDER FACE style ground truth: recall and precision by face size.

Definitions (each is a pure function of the matched detections):

* **Matching**: per image, detections are taken best score first; each is matched to the
  still-unmatched valid ground-truth box with the highest IoU, if that IoU is >= ``iou``
  (0.5, the PASCAL/WIDER criterion). A detection that instead overlaps a box flagged
  *invalid* in the ground truth is ignored (neither true nor false positive), as in the
  official WIDER evaluation. Anything else is a false positive.
* **Size band** of a ground-truth face: its box height in pixels (WIDER boxes are tight, so
  height is the face height a lane camera must resolve). A true positive counts in the band
  of its ground truth; a false positive in the band of its own height.
* **Recall** (true positive identification rate of detection) in a band: matched valid faces
  / valid faces. **Precision**: true positives / (true + false positives) among detections
  in the band. Both are given at an operating score threshold; a detection scoring exactly
  the threshold counts as a detection.
* **AP**: area under the all-point interpolated precision-recall curve over every valid
  face of every size (VOC 2010+ definition), from detections down to the run's floor score.

Running a detector once at a low floor score and filtering afterwards is exact: greedy NMS
only lets a box suppress lower-scoring ones, so the survivors above any higher threshold
are the same as if the detector had been run at that threshold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ManifestError, MetricError
from bordermatch.protocols import Detector

log = logging.getLogger(__name__)

GT_FILE = "wider_face_val_bbx_gt_SUBSET.txt"
IMAGES_DIR = Path("WIDER_val") / "images"
# Upper edges of the size bands, in pixels of face height; the last band is open-ended.
BAND_EDGES = (16, 32, 64, 128)


@dataclass(frozen=True, slots=True, eq=False)
class GroundTruth:
    """The annotated faces of one image: boxes (n, 4) x1 y1 x2 y2 and a validity mask."""

    image: str  # path relative to the images directory
    boxes: NDArray[np.float32]
    valid: NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class ImageResult:
    """Detections of one image after matching (``status``: 1 TP, 0 FP, -1 ignored)."""

    scores: NDArray[np.float32]
    heights: NDArray[np.float32]
    status: NDArray[np.int8]
    matched_score: NDArray[np.float32]  # per GT box: score of its match, -inf if unmatched
    gt_heights: NDArray[np.float32]
    gt_valid: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class BandFigures:
    band: str
    faces: int
    recall: float
    detections: int
    precision: float


@dataclass(frozen=True, slots=True)
class DetectorFigures:
    """Everything reported for one detector configuration."""

    detector: str
    images: int
    faces: int
    ap: float
    threshold: float
    recall: float
    precision: float
    bands: tuple[BandFigures, ...]
    mean_ms: float
    p50_ms: float
    pr_curve: tuple[NDArray[np.float64], NDArray[np.float64]] = field(repr=False)
    # Set when ``threshold`` was chosen as the lowest giving this precision on the data.
    target_precision: float | None = None


def band_names(edges: Sequence[int] = BAND_EDGES) -> list[str]:
    middle = [f"{lo}-{hi}" for lo, hi in pairwise(edges)]
    return [f"<{edges[0]}", *middle, f">={edges[-1]}"]


def band_index(heights: NDArray, edges: Sequence[int] = BAND_EDGES) -> NDArray[np.int64]:
    return np.searchsorted(np.asarray(edges, np.float64), heights, side="right")


def parse_wider_gt(text: str) -> list[GroundTruth]:
    """Parse the official ``wider_face_*_bbx_gt.txt`` format (``x y w h blur ... invalid ...``).

    An image with no face is written with a count of 0 followed by one all-zero line.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    out: list[GroundTruth] = []
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name = lines[i]
        try:
            count = int(lines[i + 1])
            rows = [
                [float(v) for v in lines[i + 2 + k].split()] for k in range(max(count, 1))
            ]
        except (IndexError, ValueError) as exc:
            raise ManifestError(f"WIDER ground truth: bad entry for {name!r} ({exc})") from None
        if count < 0 or any(len(r) < 8 for r in rows):
            raise ManifestError(f"WIDER ground truth: bad box line under {name!r}")
        arr = np.asarray([r[:8] for r in rows[:count]], np.float32).reshape(count, 8)
        boxes = np.concatenate([arr[:, :2], arr[:, :2] + arr[:, 2:4]], axis=1)
        out.append(GroundTruth(name, boxes.astype(np.float32), arr[:, 7] == 0))
        i += 2 + max(count, 1)
    if not out:
        raise ManifestError("WIDER ground truth: no images listed")
    return out


def load_wider(wider_dir: Path) -> tuple[Path, list[GroundTruth]]:
    """Images directory and ground truth of a WIDER FACE (subset) folder; only images on disk."""
    gt_path = wider_dir / GT_FILE
    if not gt_path.is_file():
        gt_path = wider_dir / "wider_face_val_bbx_gt.txt"
    images = wider_dir / IMAGES_DIR
    if not gt_path.is_file() or not images.is_dir():
        raise ManifestError(f"{wider_dir}: need {GT_FILE} and {IMAGES_DIR}/")
    entries = [g for g in parse_wider_gt(gt_path.read_text()) if (images / g.image).is_file()]
    if not entries:
        raise ManifestError(f"{wider_dir}: none of the annotated images is on disk")
    return images, entries


def pairwise_iou(a: NDArray, b: NDArray) -> NDArray[np.float64]:
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_image(
    boxes: NDArray, scores: NDArray, gt: GroundTruth, iou: float = 0.5
) -> ImageResult:
    """Greedy best-score-first matching of one image's detections to its ground truth."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(boxes) != len(scores):
        raise MetricError(f"{len(boxes)} boxes but {len(scores)} scores")
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    overlaps = pairwise_iou(boxes, gt.boxes)
    status = np.zeros(len(boxes), np.int8)
    matched = np.full(len(gt.boxes), -np.inf, np.float32)
    taken = np.zeros(len(gt.boxes), bool)
    for d in range(len(boxes)):
        cand = np.where(gt.valid & ~taken, overlaps[d], -1.0)
        g = int(np.argmax(cand)) if cand.size else -1
        if g >= 0 and cand[g] >= iou:
            status[d], taken[g], matched[g] = 1, True, scores[d]
        elif cand.size and np.where(~gt.valid, overlaps[d], -1.0).max() >= iou:
            status[d] = -1
    return ImageResult(
        scores=scores,
        heights=(boxes[:, 3] - boxes[:, 1]).astype(np.float32),
        status=status,
        matched_score=matched,
        gt_heights=(gt.boxes[:, 3] - gt.boxes[:, 1]).astype(np.float32),
        gt_valid=gt.valid,
    )


def average_precision(
    scores: NDArray, is_tp: NDArray, n_positive: int
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """All-point interpolated AP and the (recall, precision) curve, best score first."""
    if n_positive <= 0:
        raise MetricError("average precision needs at least one positive")
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(is_tp, bool)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(~tp)
    recall = ctp / n_positive
    precision = ctp / np.maximum(ctp + cfp, 1)
    r = np.concatenate([[0.0], recall, [recall[-1] if recall.size else 0.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope
    ap = float(np.sum((r[1:] - r[:-1]) * p[1:]))
    return ap, recall.astype(np.float64), precision.astype(np.float64)


def summarise(
    name: str,
    results: Sequence[ImageResult],
    times_ms: Sequence[float],
    threshold: float,
    edges: Sequence[int] = BAND_EDGES,
    target_precision: float | None = None,
) -> DetectorFigures:
    """Figures for one detector at one operating threshold."""
    if not results:
        raise MetricError("no images evaluated")
    keep = [r.status >= 0 for r in results]
    scores = np.concatenate([r.scores[k] for r, k in zip(results, keep, strict=True)])
    tp = np.concatenate([r.status[k] == 1 for r, k in zip(results, keep, strict=True)])
    gt_valid = np.concatenate([r.gt_valid for r in results])
    gt_h = np.concatenate([r.gt_heights for r in results])[gt_valid]
    gt_hit = np.concatenate([r.matched_score for r in results])[gt_valid] >= threshold
    n_faces = int(gt_valid.sum())
    ap, rec_curve, prec_curve = average_precision(scores, tp, n_faces)
    det_h = np.concatenate([r.heights[k] for r, k in zip(results, keep, strict=True)])
    # A true positive is counted in its ground truth's band, so recover that height.
    tp_gt_h = _tp_gt_heights(results, threshold)
    above = scores >= threshold
    det_band = band_index(det_h[above & ~tp], edges)
    tp_band = band_index(tp_gt_h, edges)
    gt_band = band_index(gt_h, edges)
    bands = []
    for b, label in enumerate(band_names(edges)):
        faces = int((gt_band == b).sum())
        n_tp, n_fp = int((tp_band == b).sum()), int((det_band == b).sum())
        bands.append(BandFigures(
            band=label,
            faces=faces,
            recall=float(gt_hit[gt_band == b].mean()) if faces else float("nan"),
            detections=n_tp + n_fp,
            precision=n_tp / (n_tp + n_fp) if n_tp + n_fp else float("nan"),
        ))
    n_det = int(above.sum())
    times = np.asarray(times_ms, np.float64)
    return DetectorFigures(
        detector=name,
        images=len(results),
        faces=n_faces,
        ap=ap,
        threshold=threshold,
        recall=float(gt_hit.mean()),
        precision=float(tp[above].sum() / n_det) if n_det else float("nan"),
        bands=tuple(bands),
        mean_ms=float(times.mean()) if times.size else float("nan"),
        p50_ms=float(np.median(times)) if times.size else float("nan"),
        pr_curve=(rec_curve, prec_curve),
        target_precision=target_precision,
    )


def threshold_for_precision(results: Sequence[ImageResult], target: float) -> float | None:
    """Lowest score threshold whose detections reach ``target`` precision (None if none does).

    Thresholds are calibrated on data like the matchers' FMR thresholds, not picked by hand:
    precision is measured over every detection scoring at or above the candidate, ties
    included, and the lowest qualifying candidate maximises recall.
    """
    if not 0.0 < target <= 1.0:
        raise MetricError(f"target precision must be in (0, 1], got {target}")
    keep = [r.status >= 0 for r in results]
    scores = np.concatenate([r.scores[k] for r, k in zip(results, keep, strict=True)])
    tp = np.concatenate([r.status[k] == 1 for r, k in zip(results, keep, strict=True)])
    if scores.size == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    scores, tp = scores[order], tp[order]
    # Only the last detection of a run of tied scores is a valid cut.
    last_of_tie = np.r_[scores[1:] != scores[:-1], True]
    precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    ok = np.nonzero(last_of_tie & (precision >= target))[0]
    return float(scores[ok[-1]]) if ok.size else None


def _tp_gt_heights(results: Sequence[ImageResult], threshold: float) -> NDArray[np.float32]:
    parts = [r.gt_heights[r.gt_valid & (r.matched_score >= threshold)] for r in results]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class Rescaled:
    """A detector run on the image resized by ``factor``, faces mapped back to the original.

    Lets the evaluation compare input scales for any backend (YuNet has no upscale option);
    the resize is counted in the detection time.
    """

    def __init__(self, detector: Detector, factor: float) -> None:
        if factor <= 0:
            raise MetricError(f"input scale must be positive, got {factor}")
        self.detector = detector
        self.factor = factor
        self.name = f"{detector.name}@x{factor:g}"

    def detect(self, image):
        import cv2

        from bordermatch.types import Face

        interp = cv2.INTER_AREA if self.factor < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(image, None, fx=self.factor, fy=self.factor, interpolation=interp)
        inv = 1.0 / self.factor
        return [Face(box=(f.box * inv).astype(np.float32),
                     landmarks=(f.landmarks * inv).astype(np.float32),
                     score=f.score, detector=f.detector)
                for f in self.detector.detect(resized)]


def run_detector(
    detector: Detector,
    images_dir: Path,
    entries: Iterable[GroundTruth],
    iou: float = 0.5,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> tuple[list[ImageResult], list[float]]:
    """Detect on every image and match; returns per-image results and detection times (ms)."""
    from bordermatch.io.images import load_image

    results, times = [], []
    items = list(entries)
    for gt in progress(items) if progress else items:
        img = load_image(images_dir / gt.image)
        t0 = time.perf_counter()
        faces = detector.detect(img)
        times.append((time.perf_counter() - t0) * 1000.0)
        boxes = np.asarray([f.box for f in faces], np.float32).reshape(-1, 4)
        scores = np.asarray([f.score for f in faces], np.float32)
        results.append(match_image(boxes, scores, gt, iou))
    log.info("%s: %d images, mean %.1f ms", detector.name, len(results), np.mean(times or [0]))
    return results, times
