"""Enrol a gallery directory (DESIGN.md: ``manifest.csv`` + photos) into templates.

The manifest is read by ``gallery.manifest`` and each photo's subject is chosen by
``gallery.enrol``, the rules every other caller uses. Nothing in one row can stop the
enrolment: invalid rows, unreadable photos, photos with no face or with two comparable
faces go to the report. Low-quality photos are enrolled but flagged (an officer should ask
for a new photo; refusing them would only turn a weak match into a certain miss). After
enrolment every pair of travellers whose templates match above a strict threshold is
flagged: one face under two identities.

One reference per traveller for now: the first of a traveller's rows whose photo enrols is
the reference; the traveller's later rows are flagged ``additional_reference`` (valid, not
used yet; the template file holds one vector per traveller).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch.errors import BordermatchError, ConfigError
from bordermatch.gallery.enrol import PortraitDetector, as_portrait
from bordermatch.gallery.file import GalleryTemplates
from bordermatch.gallery.manifest import ManifestRow, entry, read_manifest
from bordermatch.io.images import load_image
from bordermatch.protocols import Detector, Embedder, QualityAssessor

log = logging.getLogger(__name__)


def enrol(gallery_dir: Path, detector: Detector | PortraitDetector, embedder: Embedder,
          assessor: QualityAssessor, *, min_quality: float, same_face_threshold: float,
          progress: Callable[[int, int], None] | None = None) -> GalleryTemplates:
    manifest = read_manifest(gallery_dir)
    portrait = as_portrait(detector)
    rejected: list[dict[str, Any]] = list(manifest.report)
    flagged: list[dict[str, Any]] = []
    ids, vectors, quality = [], [], []
    travellers = manifest.travellers()
    for i, (tid, rows) in enumerate(travellers.items()):
        if progress:
            progress(i + 1, len(travellers))
        for j, row in enumerate(rows):
            result = _enrol_row(gallery_dir, row, portrait, embedder, assessor, min_quality)
            if isinstance(result, dict):
                rejected.append(result)
                continue
            vector, q, flags = result
            flagged.extend(flags)
            ids.append(tid)
            vectors.append(vector)
            quality.append(q)
            flagged.extend(entry(r.line, tid, "additional_reference",
                                 f"another document or photo of {tid}; one reference per "
                                 f"traveller is enrolled (line {row.line})")
                           for r in rows[j + 1:])
            break
    dim = getattr(embedder, "dim", 0)
    mat = np.asarray(vectors, np.float32).reshape(len(vectors), dim if not vectors else -1)
    same = same_face_pairs(ids, mat, same_face_threshold)
    report = {"rows": manifest.n_rows, "enrolled": len(ids),
              "rejected": sorted(rejected, key=lambda e: e["line"]), "flagged": flagged,
              "same_face_threshold": same_face_threshold, "same_face_pairs": same,
              "min_quality": min_quality}
    log.info("enrolled %d of %d travellers; %d rows rejected, %d suspected same-face pairs",
             len(ids), len(travellers), len(rejected), len(same))
    return GalleryTemplates(tuple(ids), mat, np.asarray(quality, np.float32),
                            model=embedder.name, detector=portrait.name, report=report)


def _enrol_row(gallery_dir: Path, row: ManifestRow, portrait: PortraitDetector,
               embedder: Embedder, assessor: QualityAssessor, min_quality: float
               ) -> tuple[np.ndarray, float, list[dict[str, Any]]] | dict[str, Any]:
    """(template, unified quality, flags) for one row, or its rejection entry."""
    tid = row.traveler_id
    if row.opt_out or not row.photo:
        return entry(row.line, tid, "opted_out", "the traveller declined biometric enrolment")
    root = Path(gallery_dir).resolve()
    target = (root / row.photo).resolve()
    if root not in target.parents:  # a symbolic link out of the directory
        return entry(row.line, tid, "bad_row", "photo path leaves the gallery directory")
    try:
        image = load_image(target)
        choice = portrait.subject(image)
    except BordermatchError as exc:
        return entry(row.line, tid, exc.code, str(exc))
    if choice.ambiguous:
        return entry(row.line, tid, "several_faces",
                     f"{choice.n_faces} faces; another one as large near the centre")
    flags = []
    if choice.n_faces > 1:
        flags.append(entry(row.line, tid, "bystander_faces",
                           f"{choice.n_faces - 1} smaller or off-centre face(s) ignored"))
    if choice.retried:
        flags.append(entry(row.line, tid, "weak_face",
                           "no face at the detector's operating point; enrolled the one found "
                           "at the retry score"))
    q = assessor.assess(image, choice.face)
    if q.unified < min_quality:
        flags.append(entry(row.line, tid, "low_quality",
                           f"unified quality {q.unified:.0f} < {min_quality:g}"))
    return embedder.embed(image, [choice.face])[0], q.unified, flags


def same_face_pairs(ids: list[str], vectors: np.ndarray, threshold: float,
                    block: int = 1024) -> list[dict[str, Any]]:
    """Every pair (i < j) with cosine >= threshold, best first; blocked to bound memory."""
    out = []
    for start in range(0, len(ids), block):
        sims = vectors[start:start + block] @ vectors.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows, cols, strict=True):
            i = start + int(r)
            if i < c:
                out.append({"a": ids[i], "b": ids[int(c)], "score": round(float(sims[r, c]), 4)})
    return sorted(out, key=lambda p: -p["score"])


def strict_cosine_threshold(model: str, target_fmr: float) -> float:
    """The raw cosine at which the bundled 1:1 calibration of ``model`` reaches target FMR."""
    from bordermatch.match.fusion import load_matcher

    matcher = load_matcher(model)
    weights = dict(matcher.primary.weights)
    if set(weights) != {model} or weights[model] <= 0:
        raise ConfigError(f"matcher {model!r} is not a single-model logistic score")
    return (matcher.threshold(target_fmr) - matcher.primary.bias) / weights[model]
