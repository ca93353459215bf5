from __future__ import annotations

import pytest
from tests.fingerprint.fp_helpers import FakeComparator, encode, make_template, ridges

from bordermatch.errors import ManifestError
from bordermatch.fingerprint.evaluate import compare_all, fvc_images, summarise


def _folder(tmp_path, fingers=3, impressions=3):
    png = encode(ridges(200))
    for f in range(1, fingers + 1):
        for i in range(1, impressions + 1):
            (tmp_path / f"{f}_{i}.png").write_bytes(png)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "x_1.png").write_bytes(png)  # not an FVC name
    return tmp_path


def _fake_extract(image, *a, **k):
    # The pixels are all alike; the finger is told by a counter so mates share minutiae.
    n = _fake_extract.calls
    _fake_extract.calls += 1
    return make_template(30, seed=n // 3)


def test_fvc_protocol_counts_and_metrics(tmp_path):
    images = fvc_images(_folder(tmp_path))
    assert [(f, i) for f, i, _ in images][:4] == [(1, 1), (1, 2), (1, 3), (2, 1)]
    _fake_extract.calls = 0
    seen: list[tuple[int, int]] = []
    scores = compare_all(images, FakeComparator(), extract=_fake_extract,
                         progress=lambda done, total: seen.append((done, total)))
    assert (scores.genuine.size, scores.impostor.size) == (3 * 3, 36 - 9)
    # The bar counts 9 extractions, then 36 comparisons, one row of pairs at a time.
    assert seen[0] == (1, 45) and seen[8] == (9, 45) and seen[-1] == (45, 45)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    out = summarise(scores)
    assert out["eer"] == 0.0 and out["fnmr_at_fmr_0.001"] is None
    assert out["genuine"] == 9 and out["impostor"] == 27 and out["images"] == 9


def test_subsets_and_empty_folders(tmp_path):
    images = fvc_images(_folder(tmp_path, 4, 4), max_fingers=2, max_impressions=3)
    assert {(f, i) for f, i, _ in images} == {(f, i) for f in (1, 2) for i in (1, 2, 3)}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ManifestError):
        fvc_images(empty)
    with pytest.raises(ManifestError):
        fvc_images(tmp_path / "missing")
