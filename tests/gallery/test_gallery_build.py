"""Gallery enrolment (with fakes) and the template file format."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image
from tests.fakes import FakeDetector, FakeEmbedder, FakeQuality, make_face

from bordermatch.errors import ManifestError
from bordermatch.gallery.build import enrol, same_face_pairs
from bordermatch.gallery.file import GalleryTemplates, load, paths, save
from bordermatch.gallery.manifest import COLUMNS


def _gallery(tmp_path, rows):
    d = tmp_path / "g"
    (d / "photos").mkdir(parents=True)
    rng = np.random.default_rng(0)
    with open(d / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for i, (tid, photo) in enumerate(rows):
            w.writerow({"traveler_id": tid, "given_names": "A", "surname": "B",
                        "document_type": "P", "document_number": f"D{i}", "nationality": "USA",
                        "citizen": "true", "photo": photo})
            if photo.startswith("photos/ok"):
                arr = rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / photo)
    (d / "photos" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return d


def test_problems_go_to_the_report_not_a_crash(tmp_path):
    d = _gallery(tmp_path, [("T1", "photos/ok1.png"), ("T2", "photos/ok2.png"),
                            ("T1", "photos/ok3.png"), ("T3", "photos/missing.jpg"),
                            ("T4", "photos/broken.jpg"), ("", "photos/ok4.png"),
                            ("T5", "../outside.jpg")])
    g = enrol(d, FakeDetector([make_face(20, 20, 100)]), FakeEmbedder(), FakeQuality(20.0),
              min_quality=30.0, same_face_threshold=0.999)
    reasons = {(r["traveler_id"], r["reason"]) for r in g.report["rejected"]}
    # T1's second row is valid: a second reference of the same traveller, with its document.
    assert g.traveler_ids == ("T1", "T1", "T2")
    assert g.document_numbers == ("D0", "D2", "D1")
    assert g.document_index() == {("D0", "USA"): "T1", ("D2", "USA"): "T1",
                                  ("D1", "USA"): "T2"}
    assert reasons == {("T3", "not_found"), ("T4", "corrupt_image"), (None, "bad_row"),
                       ("T5", "bad_row")}
    flags = {(r["traveler_id"], r["reason"]) for r in g.report["flagged"]}
    assert {r[1] for r in flags} == {"low_quality"}
    assert (g.report["rows"], g.report["enrolled"], g.report["travelers"]) == (7, 3, 2)
    # The two photos of T1 (the fake embeds every crop alike) do not flag each other.
    assert g.report["same_face_pairs"] == [{"a": "T1", "b": "T2", "score": 1.0}]


def test_first_reference_only_takes_the_first_photo_that_works(tmp_path):
    d = _gallery(tmp_path, [("T1", "photos/broken.jpg"), ("T1", "photos/ok1.png"),
                            ("T1", "photos/ok2.png")])
    g = enrol(d, FakeDetector([make_face(20, 20, 100)]), FakeEmbedder(), FakeQuality(),
              min_quality=0, same_face_threshold=1.0, first_reference_only=True)
    assert g.traveler_ids == ("T1",) and g.document_numbers == ("D1",)
    assert [(r["line"], r["reason"]) for r in g.report["rejected"]] == [(2, "corrupt_image")]
    assert [(r["line"], r["reason"]) for r in g.report["flagged"]] == [
        (4, "additional_reference")]


def test_no_face_and_ambiguous_faces(tmp_path):
    d = _gallery(tmp_path, [("T1", "photos/ok1.png")])
    g = enrol(d, FakeDetector([]), FakeEmbedder(), FakeQuality(), min_quality=0,
              same_face_threshold=1.0)
    assert g.report["rejected"][0]["reason"] == "no_face" and len(g) == 0
    two = FakeDetector([make_face(10, 30, 70), make_face(80, 30, 70)])
    g = enrol(d, two, FakeEmbedder(), FakeQuality(), min_quality=0, same_face_threshold=1.0)
    assert g.report["rejected"][0]["reason"] == "several_faces"


def test_same_face_pairs_flags_one_face_under_two_ids():
    v = np.eye(4, dtype=np.float32)
    v[3] = v[1]
    pairs = same_face_pairs(["a", "b", "c", "d"], v, 0.9, block=2)
    assert pairs == [{"a": "b", "b": "d", "score": 1.0}]
    # Two references of one traveller are one person, and a pair is listed once.
    v = np.eye(4, dtype=np.float32)
    v[1] = v[0]
    v[3] = v[0]
    assert same_face_pairs(["a", "a", "c", "d"], v, 0.9, block=3) == [
        {"a": "a", "b": "d", "score": 1.0}]


def test_store_roundtrip_and_tamper_detection(tmp_path):
    g = GalleryTemplates(("T1", "T2"), np.eye(2, dtype=np.float32),
                         np.array([50, 60], np.float32), "fake", "fake", {"enrolled": 2})
    save(g, tmp_path / "gal.npz")
    back = load(tmp_path / "gal")
    assert back.traveler_ids == g.traveler_ids and np.allclose(back.vectors, g.vectors)
    assert back.document_numbers == ("", "") and back.document_index() == {}
    assert back.report == {"enrolled": 2}
    npz, _sidecar = paths(tmp_path / "gal")
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(ManifestError, match="SHA-256"):
        load(tmp_path / "gal")
    with pytest.raises(ManifestError):
        load(tmp_path / "nothing")
