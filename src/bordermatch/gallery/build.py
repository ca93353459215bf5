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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch.errors import BordermatchError
from bordermatch.gallery.enrol import PortraitDetector, as_portrait
from bordermatch.gallery.file import GalleryTemplates
from bordermatch.gallery.manifest import Manifest, ManifestRow, entry, read_manifest
from bordermatch.io.images import load_image
from bordermatch.protocols import Detector, Embedder, QualityAssessor

log = logging.getLogger(__name__)


def enrol(gallery_dir: Path, detector: Detector | PortraitDetector, embedder: Embedder,
          assessor: QualityAssessor, *, min_quality: float, same_face_threshold: float,
          progress: Callable[[int, int], None] | None = None,
          first_reference_only: bool = False) -> GalleryTemplates:
    """Every row's photo becomes a reference of its traveller (DESIGN.md: several rows of
    one ``traveler_id`` are one person's documents and photos). ``first_reference_only``
    enrols each traveller's first usable row alone, to measure what the others buy."""
    manifest = read_manifest(gallery_dir)
    portrait = as_portrait(detector)
    part = enrol_travellers(gallery_dir, list(manifest.travellers().items()), portrait,
                            embedder, assessor, min_quality=min_quality,
                            first_reference_only=first_reference_only, progress=progress)
    return assemble(manifest, [part], model=embedder.name, dim=getattr(embedder, "dim", 0),
                    detector=portrait.name, min_quality=min_quality,
                    same_face_threshold=same_face_threshold)


@dataclass(slots=True)
class Enrolled:
    """What enrolling some travellers' rows gave, in manifest order: the whole gallery's
    share of one process, or of one chunk of a batch job (``bordermatch.batch``)."""

    ids: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    docs: list[tuple[str, str, str]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    flagged: list[dict[str, Any]] = field(default_factory=list)


def enrol_travellers(gallery_dir: Path, travellers: Sequence[tuple[str, list[ManifestRow]]],
                     portrait: PortraitDetector, embedder: Embedder,
                     assessor: QualityAssessor, *, min_quality: float,
                     first_reference_only: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> Enrolled:
    """Enrol the rows of ``travellers`` (traveller id, that traveller's rows)."""
    out = Enrolled()
    for i, (tid, rows) in enumerate(travellers):
        if progress:
            progress(i + 1, len(travellers))
        for j, row in enumerate(rows):
            result = _enrol_row(gallery_dir, row, portrait, embedder, assessor, min_quality)
            if isinstance(result, dict):
                out.rejected.append(result)
                continue
            vector, q, flags = result
            out.flagged.extend(flags)
            out.ids.append(tid)
            out.vectors.append(vector)
            out.quality.append(q)
            out.docs.append((row.document_type, row.document_number, row.nationality))
            if first_reference_only:
                out.flagged.extend(entry(r.line, tid, "additional_reference",
                                         f"another document or photo of {tid}, left out: "
                                         f"first reference only (line {row.line})")
                                   for r in rows[j + 1:])
                break
    return out


def assemble(manifest: Manifest, parts: Sequence[Enrolled], *, model: str, dim: int,
             detector: str, min_quality: float, same_face_threshold: float
             ) -> GalleryTemplates:
    """The gallery of ``manifest`` from the parts that together enrolled all its travellers,
    in manifest order; the same-face check runs across all of them."""
    rejected: list[dict[str, Any]] = list(manifest.report)
    flagged: list[dict[str, Any]] = []
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    quality: list[float] = []
    docs: list[tuple[str, str, str]] = []
    for part in parts:
        rejected += part.rejected
        flagged += part.flagged
        ids += part.ids
        vectors += part.vectors
        quality += part.quality
        docs += part.docs
    mat = np.asarray(vectors, np.float32).reshape(len(vectors), dim if not vectors else -1)
    same = same_face_pairs(ids, mat, same_face_threshold)
    report = {"rows": manifest.n_rows, "enrolled": len(ids), "travelers": len(set(ids)),
              "rejected": sorted(rejected, key=lambda e: e["line"]), "flagged": flagged,
              "same_face_threshold": same_face_threshold, "same_face_pairs": same,
              "min_quality": min_quality}
    log.info("enrolled %d photos of %d travellers; %d rows rejected, %d suspected same-face "
             "pairs", len(ids), len(set(ids)), len(rejected), len(same))
    types, numbers, nationalities = (tuple(c) for c in zip(*docs, strict=True)) if docs \
        else ((), (), ())
    return GalleryTemplates(tuple(ids), mat, np.asarray(quality, np.float32),
                            model=model, detector=detector, report=report,
                            document_types=types, document_numbers=numbers,
                            nationalities=nationalities)


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
    """Every pair of travellers with references at cosine >= threshold, best first (the
    best pair of their references); two photos of one traveller never flag each other.
    Blocked to bound memory."""
    best: dict[tuple[str, str], float] = {}
    for start in range(0, len(ids), block):
        sims = vectors[start:start + block] @ vectors.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows, cols, strict=True):
            a, b = ids[start + int(r)], ids[int(c)]
            if a < b:
                best[(a, b)] = max(best.get((a, b), -1.0), float(sims[r, c]))
    out = [{"a": a, "b": b, "score": round(v, 4)} for (a, b), v in best.items()]
    return sorted(out, key=lambda p: (-p["score"], p["a"], p["b"]))


def strict_cosine_threshold(model: str, target_fmr: float) -> float:
    """The raw cosine at which the bundled 1:1 calibration of ``model`` reaches target FMR."""
    from bordermatch.match.fusion import load_matcher

    matcher = load_matcher(model)
    return matcher.primary.cosine_at(matcher.threshold(target_fmr))
