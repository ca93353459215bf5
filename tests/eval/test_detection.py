"""Detection evaluation: parsing, matching, AP and size bands; a small real WIDER run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bordermatch.errors import ManifestError, MetricError
from bordermatch.eval.detection import (
    GroundTruth,
    average_precision,
    band_index,
    band_names,
    load_wider,
    match_image,
    pairwise_iou,
    parse_wider_gt,
    run_detector,
    summarise,
)

GT_TEXT = """\
a/one.jpg
2
10 20 30 40 0 0 0 0 0 0
100 100 8 10 2 0 0 1 0 0
a/empty.jpg
0
0 0 0 0 0 0 0 0 0 0
b/two.jpg
1
0 0 200 150 0 0 0 0 0 0
"""


def _gt(boxes, valid=None) -> GroundTruth:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    valid = np.ones(len(boxes), bool) if valid is None else np.asarray(valid)
    return GroundTruth("x.jpg", boxes, valid)


def test_parse_wider_gt_converts_boxes_and_invalid_flags():
    entries = parse_wider_gt(GT_TEXT)
    assert [e.image for e in entries] == ["a/one.jpg", "a/empty.jpg", "b/two.jpg"]
    np.testing.assert_array_equal(entries[0].boxes, [[10, 20, 40, 60], [100, 100, 108, 110]])
    assert entries[0].valid.tolist() == [True, False]
    assert entries[1].boxes.shape == (0, 4)
    np.testing.assert_array_equal(entries[2].boxes, [[0, 0, 200, 150]])


@pytest.mark.parametrize(
    "text", ["", "a.jpg\nx\n", "a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", "a.jpg\n1\n1 2 3\n"]
)
def test_parse_wider_gt_rejects_malformed_text(text):
    with pytest.raises(ManifestError):
        parse_wider_gt(text)


def test_load_wider_rejects_a_folder_without_ground_truth(tmp_path):
    with pytest.raises(ManifestError):
        load_wider(tmp_path)


def test_pairwise_iou_known_values():
    iou = pairwise_iou([[0, 0, 10, 10], [5, 0, 15, 10]], [[0, 0, 10, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[1.0, 0.0], [50 / 150, 0.0]])


def test_match_counts_duplicates_as_false_positives_and_ignores_invalid_faces():
    gt = _gt([[0, 0, 100, 100], [200, 200, 210, 210]], valid=[True, False])
    boxes = [[2, 2, 100, 100], [0, 0, 98, 98], [200, 200, 210, 211], [400, 400, 450, 450]]
    res = match_image(boxes, [0.9, 0.8, 0.7, 0.95], gt)
    # Sorted by score: far-away box (FP), best match (TP), duplicate (FP), invalid face (ignored).
    assert res.status.tolist() == [0, 1, 0, -1]
    assert res.matched_score.tolist()[0] == pytest.approx(0.9)
    assert res.matched_score[1] == -np.inf


def test_match_rejects_mismatched_lengths():
    with pytest.raises(MetricError):
        match_image([[0, 0, 1, 1]], [0.5, 0.6], _gt([[0, 0, 1, 1]]))


def test_average_precision_perfect_and_known_cases():
    assert average_precision([0.9, 0.8], [True, True], 2)[0] == pytest.approx(1.0)
    # TP, FP, TP over 2 positives: envelope 1.0 to recall 0.5, then 2/3 to recall 1.0.
    ap, rec, _ = average_precision([0.9, 0.8, 0.7], [True, False, True], 2)
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert rec.tolist() == [0.5, 0.5, 1.0]
    # A missed face caps AP at the recall reached.
    assert average_precision([0.9], [True], 2)[0] == pytest.approx(0.5)
    with pytest.raises(MetricError):
        average_precision([0.9], [True], 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=40),
       st.integers(0, 10))
def test_average_precision_is_a_fraction(dets, extra_missed):
    scores = [s for s, _ in dets]
    tp = [t for _, t in dets]
    n_pos = sum(tp) + extra_missed
    if n_pos == 0:
        return
    ap, rec, prec = average_precision(scores, tp, n_pos)
    assert 0.0 <= ap <= 1.0
    assert np.all(np.diff(rec) >= 0) and np.all((prec >= 0) & (prec <= 1))


def test_bands_and_summary_by_face_height():
    assert band_names() == ["<16", "16-32", "32-64", "64-128", ">=128"]
    assert band_index(np.array([0, 15.9, 16, 32, 127, 128, 999])).tolist() == [0, 0, 1, 2, 3, 4, 4]
    # One image: a 10 px face (missed), a 40 px face (found at 0.9), a 200 px face (found
    # at 0.4) and one 20 px false positive at 0.6.
    gt = _gt([[0, 0, 10, 10], [100, 0, 140, 40], [300, 0, 500, 200]])
    boxes = [[100, 0, 140, 40], [300, 0, 500, 200], [700, 0, 720, 20]]
    res = match_image(boxes, [0.9, 0.4, 0.6], gt)
    at5 = summarise("d", [res], [12.0], threshold=0.5)
    assert at5.faces == 3 and at5.recall == pytest.approx(1 / 3)
    assert at5.precision == pytest.approx(1 / 2)
    recall = {b.band: b.recall for b in at5.bands}
    precision = {b.band: b.precision for b in at5.bands}
    assert recall["<16"] == 0.0 and recall["32-64"] == 1.0 and recall[">=128"] == 0.0
    assert precision["16-32"] == 0.0 and precision["32-64"] == 1.0
    at3 = summarise("d", [res], [12.0], threshold=0.3)
    assert at3.recall == pytest.approx(2 / 3) and at3.ap == at5.ap
    assert at3.mean_ms == 12.0


@pytest.mark.slow
def test_centerface_and_yunet_on_a_few_wider_images(shared_data):
    from bordermatch.detect.centerface import CenterFaceDetector
    from bordermatch.detect.yunet import YuNetDetector

    wider = shared_data / "multiface" / "wider_face_val_subset"
    if not wider.is_dir():
        pytest.skip("WIDER subset not present")
    images, entries = load_wider(wider)
    # A few images with mid-size faces keeps this to seconds on two cores.
    picked = [e for e in entries if 3 <= e.valid.sum() <= 12][:3]
    for det in (CenterFaceDetector(score_threshold=0.2, threads=1),
                YuNetDetector(score_threshold=0.2, threads=1)):
        results, times = run_detector(det, images, picked)
        fig = summarise(det.name, results, times, threshold=0.5)
        assert len(times) == 3 and fig.images == 3
        big = [b for b in fig.bands if b.band in ("32-64", "64-128", ">=128") and b.faces]
        assert big and all(b.recall >= 0.6 for b in big), (det.name, fig.bands)
        assert fig.precision >= 0.7 and fig.ap >= 0.3, (det.name, fig)


@pytest.mark.slow
def test_cli_writes_report_and_plot(shared_data, tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    wider = shared_data / "multiface" / "wider_face_val_subset"
    if not wider.is_dir():
        pytest.skip("WIDER subset not present")
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, ["eval", "detection", "--wider-dir", str(wider), "--out",
                                      str(out), "--limit", "1", "--detector", "centerface"])
    assert result.exit_code == 0, result.output
    md = (out / "detection.md").read_text()
    assert "| centerface | 0.5 |" in md and "Recall by face height" in md
    assert (out / "detection.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_rejects_a_bad_detector_spec(tmp_path):
    from typer.testing import CliRunner

    from bordermatch.cli import app

    result = CliRunner().invoke(app, ["eval", "detection", "--wider-dir", str(tmp_path),
                                      "--detector", "centerface:scale"])
    assert result.exit_code == 2


def test_rescaled_maps_faces_back_to_the_original_image():
    from tests.fakes import FakeDetector, make_face

    from bordermatch.eval.detection import Rescaled

    class SeesSize(FakeDetector):
        def detect(self, image):
            self.shape = image.shape
            return super().detect(image)

    inner = SeesSize([make_face(x1=40, y1=20, size=60)])
    det = Rescaled(inner, 2.0)
    faces = det.detect(np.zeros((50, 80, 3), np.uint8))
    assert inner.shape[:2] == (100, 160) and det.name == "fake@x2"
    np.testing.assert_allclose(faces[0].box, [20, 10, 50, 40])
    np.testing.assert_allclose(faces[0].landmarks, make_face(40, 20, 60).landmarks / 2)
    with pytest.raises(MetricError):
        Rescaled(inner, 0)


def test_custom_bands_label_and_count():
    gt = _gt([[0, 0, 10, 12], [0, 50, 30, 75]])
    res = match_image([[0, 50, 30, 75]], [0.9], gt)
    fig = summarise("d", [res], [1.0], 0.5, edges=(20, 40))
    assert [(b.band, b.faces, b.recall) for b in fig.bands] == [
        ("<20", 1, 0.0), ("20-40", 1, 1.0), (">=40", 0, fig.bands[2].recall)]
    assert np.isnan(fig.bands[2].recall)


def test_threshold_for_precision_is_the_lowest_qualifying_cut():
    from bordermatch.eval.detection import threshold_for_precision

    gt = _gt([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]])
    # Scores best first: TP 0.9, FP 0.8, TP 0.7, TP 0.6 (tied with an FP at 0.6).
    boxes = [[0, 0, 10, 10], [90, 90, 99, 99], [20, 0, 30, 10], [40, 0, 50, 10],
             [60, 60, 70, 70]]
    res = match_image(boxes, [0.9, 0.8, 0.7, 0.6, 0.6], gt)
    assert threshold_for_precision([res], 1.0) == pytest.approx(0.9)
    assert threshold_for_precision([res], 2 / 3) == pytest.approx(0.7)
    # At 0.6 precision is 3/5 with both tied detections in; 0.6 alone is not a valid cut.
    assert threshold_for_precision([res], 0.6) == pytest.approx(0.6)
    assert threshold_for_precision([res], 0.61) == pytest.approx(0.7)
    fp_only = match_image([[90, 90, 99, 99]], [0.9], gt)
    assert threshold_for_precision([fp_only], 0.5) is None
    with pytest.raises(MetricError):
        threshold_for_precision([res], 0.0)
