"""A small gallery of the bundled public-domain photos (and scikit-image's astronaut) for the
batch tests, and a single-process ``gallery build`` of it to compare against."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from bordermatch.gallery.manifest import COLUMNS

PHOTOS = ("obama.jpg", "obama2.jpg", "biden.jpg", "biden2.jpg", "two_people.jpg",
          "obama_partial_face.jpg", "astronaut.png")


def make_gallery(root: Path, publicdomain: Path, astronaut: np.ndarray, rows: int) -> Path:
    """``rows`` rows, two per traveller, cycling through the photos; one row names a missing
    photo so the report has a rejection to carry through the chunks."""
    d = root / "gallery"
    d.mkdir(parents=True)
    for name in PHOTOS[:-1]:
        (d / name).write_bytes((publicdomain / name).read_bytes())
    Image.fromarray(astronaut).save(d / "astronaut.png")
    with open(d / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for i in range(rows):
            photo = "missing.jpg" if i == 3 else PHOTOS[i % len(PHOTOS)]
            w.writerow({"traveler_id": f"T{i // 2:03d}", "given_names": "A",
                        "surname": f"S{i // 2}", "document_type": "P",
                        "document_number": f"D{i:04d}", "nationality": "USA",
                        "citizen": "true", "photo": photo})
    return d


def single_process(gallery_dir: Path, threshold: float):
    """What ``gallery build`` makes of the gallery, with the default models."""
    from bordermatch import registry
    from bordermatch.config import Settings
    from bordermatch.gallery.build import enrol
    from bordermatch.gallery.enrol import portrait_detector
    from bordermatch.quality.measures import FaceQualityAssessor

    cfg = Settings()
    return enrol(gallery_dir, portrait_detector(cfg.detector, cfg.detector_options()),
                 registry.create("embedder", "sface"), FaceQualityAssessor(),
                 min_quality=30.0, same_face_threshold=threshold)


def plan_job(job_dir: Path, gallery_dir: Path, threshold: float, chunk: int):
    from bordermatch.batch import jobs
    from bordermatch.config import Settings

    cfg = Settings()
    return jobs.plan(job_dir, gallery_dir, embedder="sface", detector=cfg.detector,
                     detector_options=cfg.detector_options(), min_quality=30.0,
                     same_face_threshold=threshold, first_reference_only=False,
                     chunk_travellers=chunk)


def assert_same_gallery(a, b) -> None:
    """Same templates for the same rows, in the same order, with the same report."""
    assert a.traveler_ids == b.traveler_ids
    assert a.document_numbers == b.document_numbers
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a.quality, b.quality)
    assert (a.model, a.detector) == (b.model, b.detector)
    assert a.report == b.report
