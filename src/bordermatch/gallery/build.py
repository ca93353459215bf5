"""Enrol a gallery directory (DESIGN.md: ``manifest.csv`` + photos) into templates.

Nothing in one row can stop the enrolment: unreadable photos, photos with no face or
with two comparable faces, and repeated traveler_ids go to the report. Low-quality photos
are enrolled but flagged (an officer should ask for a new photo; refusing them would only
turn a weak match into a certain miss). After enrolment every pair of travellers whose
templates match above a strict threshold is flagged: one face under two identities.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch.errors import BordermatchError, ManifestError
from bordermatch.gallery.file import GalleryTemplates
from bordermatch.io.images import load_image
from bordermatch.protocols import Detector, Embedder, QualityAssessor
from bordermatch.types import Face

log = logging.getLogger(__name__)
COLUMNS = ("traveler_id", "given_names", "surname", "document_type", "document_number",
           "nationality", "citizen", "photo")
# A second face at least this fraction of the subject's area, with its centre in the central
# half of the photo, makes the photo ambiguous. Smaller or off-centre faces are bystanders
# (LFW-style news photos have them in ~5% of images; a document photo should have none).
SECOND_FACE_AREA = 0.5


@dataclass(frozen=True, slots=True)
class ManifestRow:
    line: int
    traveler_id: str
    photo: Path
    fields: dict[str, str]


def read_manifest(gallery_dir: Path) -> tuple[list[ManifestRow], list[dict[str, Any]]]:
    """Rows to enrol and the rows rejected while parsing (as report entries)."""
    path = Path(gallery_dir) / "manifest.csv"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ManifestError(f"{path}: missing columns {missing}")
    rows, rejected, seen = [], [], set()
    for line, rec in enumerate(reader, start=2):
        tid = (rec.get("traveler_id") or "").strip()
        photo = (rec.get("photo") or "").strip()
        if not tid or not photo:
            rejected.append(_entry(line, tid or None, "bad_row", "empty traveler_id or photo"))
            continue
        if rec.get("citizen", "").strip().lower() not in ("true", "false"):
            rejected.append(_entry(line, tid, "bad_row", "citizen must be true or false"))
            continue
        if tid in seen:
            rejected.append(_entry(line, tid, "duplicate_traveler_id",
                                   "traveler_id already enrolled from an earlier row"))
            continue
        target = (Path(gallery_dir) / photo).resolve()
        if Path(gallery_dir).resolve() not in target.parents:
            rejected.append(_entry(line, tid, "bad_row", "photo path leaves the gallery directory"))
            continue
        seen.add(tid)
        rows.append(ManifestRow(line, tid, target, {k: rec.get(k, "") for k in COLUMNS}))
    return rows, rejected


def _entry(line: int, tid: str | None, reason: str, detail: str) -> dict[str, Any]:
    return {"line": line, "traveler_id": tid, "reason": reason, "detail": detail}


def enrol(gallery_dir: Path, detector: Detector, embedder: Embedder, assessor: QualityAssessor,
          *, min_quality: float, same_face_threshold: float,
          progress: Callable[[int, int], None] | None = None) -> GalleryTemplates:
    rows, rejected = read_manifest(gallery_dir)
    n_rows = len(rows) + len(rejected)
    flagged: list[dict[str, Any]] = []
    ids, vectors, quality = [], [], []
    for i, row in enumerate(rows):
        if progress:
            progress(i + 1, len(rows))
        try:
            image = load_image(row.photo)
        except BordermatchError as exc:
            rejected.append(_entry(row.line, row.traveler_id, exc.code, str(exc)))
            continue
        faces = detector.detect(image)
        if not faces:
            rejected.append(_entry(row.line, row.traveler_id, "no_face", "no face detected"))
            continue
        face, ambiguous = subject_face(faces, image.shape[1], image.shape[0])
        if ambiguous:
            rejected.append(_entry(row.line, row.traveler_id, "several_faces",
                                   f"{len(faces)} faces; another one as large near the centre"))
            continue
        if len(faces) > 1:
            flagged.append(_entry(row.line, row.traveler_id, "bystander_faces",
                                  f"{len(faces) - 1} smaller or off-centre face(s) ignored"))
        q = assessor.assess(image, face)
        if q.unified < min_quality:
            flagged.append(_entry(row.line, row.traveler_id, "low_quality",
                                  f"unified quality {q.unified:.0f} < {min_quality:g}"))
        ids.append(row.traveler_id)
        vectors.append(embedder.embed(image, [face])[0])
        quality.append(q.unified)
    dim = getattr(embedder, "dim", 0)
    mat = np.asarray(vectors, np.float32).reshape(len(vectors), dim if not vectors else -1)
    same = same_face_pairs(ids, mat, same_face_threshold)
    report = {"rows": n_rows, "enrolled": len(ids), "rejected": rejected, "flagged": flagged,
        "same_face_threshold": same_face_threshold, "same_face_pairs": same,
        "min_quality": min_quality}
    log.info("enrolled %d of %d; %d rejected, %d suspected same-face pairs",
             len(ids), len(rows), len(rejected), len(same))
    return GalleryTemplates(tuple(ids), mat, np.asarray(quality, np.float32),
                            model=embedder.name, detector=detector.name, report=report)


def subject_face(faces: list[Face], width: int, height: int) -> tuple[Face, bool]:
    """The photo's subject (largest area, discounted by distance from the centre) and
    whether another face competes with it (see SECOND_FACE_AREA)."""
    def centred(f: Face) -> float:
        cx, cy = (f.box[0] + f.box[2]) / 2 / width, (f.box[1] + f.box[3]) / 2 / height
        return float(np.hypot(cx - 0.5, cy - 0.5))

    ranked = sorted(faces, key=lambda f: -f.width * f.height * (1.0 - centred(f)))
    subject = ranked[0]
    area = subject.width * subject.height
    ambiguous = any(f.width * f.height >= SECOND_FACE_AREA * area and
                    max(abs((f.box[0] + f.box[2]) / 2 / width - 0.5),
                        abs((f.box[1] + f.box[3]) / 2 / height - 0.5)) < 0.25
                    for f in ranked[1:])
    return subject, ambiguous


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
    return matcher.primary.cosine_at(matcher.threshold(target_fmr))
