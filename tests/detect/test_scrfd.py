"""SCRFD from a model pack: decoding on constructed outputs and on tiny real ONNX graphs."""

from __future__ import annotations

import numpy as np
import pytest
from tests.models.onnx_packs import (
    BOX_DIST,
    KPS_OFFSETS,
    SCRFD_INPUT,
    SCRFD_OUTPUT_ORDER,
    default_pack,
    scrfd_model,
    write_pack,
)

from bordermatch import registry
from bordermatch.detect.scrfd import SCRFDDetector, anchor_centres, decode, group_outputs
from bordermatch.errors import (
    ConfigError,
    ManifestError,
    ModelFormatError,
    ModelIntegrityError,
)


def _pack_with(tmp_path, model, size=(64, 64)):
    spec = {**SCRFD_INPUT, "size": list(size)}
    return write_pack(tmp_path / "p", {"det.onnx": (model, {"name": "det", "kind": "scrfd",
                                                             "input": spec})})


def test_anchor_centres_are_cell_major_with_two_anchors():
    c = anchor_centres(16, 32, 8)  # 2 rows x 4 cols
    assert c.shape == (16, 2)
    assert c[:6].tolist() == [[0, 0], [0, 0], [8, 0], [8, 0], [16, 0], [16, 0]]
    assert c[8].tolist() == [0, 8]


def _outputs(h=64, w=64, batch_axis=False):
    out = {}
    for s in (8, 16, 32):
        n = (h // s) * (w // s) * 2
        out[s] = [np.zeros((n, 1), np.float32), np.zeros((n, 4), np.float32),
                  np.zeros((n, 10), np.float32)]
    return out


def test_decode_distance_boxes_and_keypoints():
    out = _outputs()
    # Stride 16, cell (row 1, col 2), second anchor: row index (1 * 4 + 2) * 2 + 1 = 13.
    score, box, kps = out[16]
    score[13] = 0.8
    box[13] = [1.0, 0.5, 2.0, 1.5]
    kps[13] = np.ravel(KPS_OFFSETS)
    flat = [a for s in (8, 16, 32) for a in out[s]]
    boxes, points, scores = decode(flat, 64, 64, threshold=0.5)
    cx, cy = 2 * 16, 1 * 16
    np.testing.assert_allclose(boxes, [[cx - 16, cy - 8, cx + 32, cy + 24]])
    np.testing.assert_allclose(points.reshape(5, 2), np.add(KPS_OFFSETS, 0) * 16 + [cx, cy])
    np.testing.assert_allclose(scores, [0.8])


def test_outputs_are_found_by_shape_in_any_order_and_with_a_batch_axis():
    out = _outputs()
    flat = [a[None] for s in (32, 8, 16) for a in out[s][::-1]]  # shuffled, (1, n, k)
    groups = group_outputs(flat, 64, 64)
    assert {s: sorted(g) for s, g in groups.items()} == {8: [1, 4, 10], 16: [1, 4, 10],
                                                        32: [1, 4, 10]}
    with pytest.raises(ModelFormatError):
        group_outputs([np.zeros((7, 4), np.float32)], 64, 64)
    with pytest.raises(ModelFormatError):  # the same head twice
        group_outputs([out[8][1], out[8][1]], 64, 64)


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    return SCRFDDetector(pack=default_pack(tmp_path_factory.mktemp("pack")), threads=1)


def _white_cell(h, w, y, x, size):
    img = np.zeros((h, w, 3), np.uint8)
    img[y:y + size, x:x + size] = 255
    return img


def _expected(cx, cy, scale=1.0):
    s = 8
    box = np.array([cx - BOX_DIST[0] * s, cy - BOX_DIST[1] * s,
                    cx + BOX_DIST[2] * s, cy + BOX_DIST[3] * s]) / scale
    kps = (np.add(KPS_OFFSETS, 0) * s + [cx, cy]) / scale
    return box, kps


def test_tiny_graph_gives_the_predicted_face(detector):
    # Cell (row 3, col 5) at stride 8 is white: anchor centre (40, 24).
    faces = detector.detect(_white_cell(64, 64, 24, 40, 8))
    assert len(faces) == 1  # two anchors, one face after NMS
    box, kps = _expected(40, 24)
    np.testing.assert_allclose(faces[0].box, box, atol=1e-3)
    np.testing.assert_allclose(faces[0].landmarks, kps, atol=1e-3)
    assert faces[0].score > 0.99 and faces[0].detector == "scrfd"


def test_letterbox_scale_is_undone(detector):
    # 128x96 is scaled by 0.5 into the 64x64 input; the white block lands on cell (3, 5).
    faces = detector.detect(_white_cell(96, 128, 48, 80, 16))
    assert len(faces) == 1
    box, kps = _expected(40, 24, scale=0.5)
    np.testing.assert_allclose(faces[0].box, box, atol=1e-3)
    np.testing.assert_allclose(faces[0].landmarks, kps, atol=1e-3)


def test_no_face_on_a_dark_image(detector):
    assert detector.detect(np.zeros((50, 70, 3), np.uint8)) == []


def test_output_order_of_the_export_does_not_matter(tmp_path):
    order = SCRFD_OUTPUT_ORDER[::-1]
    det = SCRFDDetector(pack=_pack_with(tmp_path, scrfd_model(output_order=order)), threads=1)
    faces = det.detect(_white_cell(64, 64, 24, 40, 8))
    np.testing.assert_allclose(faces[0].box, _expected(40, 24)[0], atol=1e-3)


def test_random_weight_graph_loads_and_runs_through_the_registry(tmp_path):
    pack = _pack_with(tmp_path, scrfd_model(predictable=False, seed=3), size=(96, 64))
    det = registry.create("detector", "scrfd", pack=pack, score_threshold=0.0, top_k=5)
    rng = np.random.default_rng(1)
    faces = det.detect(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8))
    assert 1 <= len(faces) <= 5
    for f in faces:
        assert f.box.shape == (4,) and f.landmarks.shape == (5, 2)
        assert 0 <= f.box[0] < f.box[2] <= 200 and 0 <= f.box[1] < f.box[3] <= 120


def test_pack_from_the_model_pack_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("BORDERMATCH_MODEL_PACK", str(default_pack(tmp_path / "env")))
    assert SCRFDDetector(threads=1).spec.name == "det_tiny"
    monkeypatch.delenv("BORDERMATCH_MODEL_PACK")
    with pytest.raises(ConfigError):
        SCRFDDetector()


def test_export_without_keypoints_is_refused(tmp_path):
    with pytest.raises(ModelFormatError, match="keypoints"):
        SCRFDDetector(pack=_pack_with(tmp_path, scrfd_model(with_kps=False)))


def test_fixed_graph_size_must_match_the_manifest(tmp_path):
    with pytest.raises(ModelFormatError):
        SCRFDDetector(pack=_pack_with(tmp_path / "a", scrfd_model(input_hw=(128, 128))))
    ok = SCRFDDetector(pack=_pack_with(tmp_path / "b", scrfd_model(input_hw=(64, 64))))
    assert len(ok.detect(_white_cell(64, 64, 24, 40, 8))) == 1


def test_size_not_a_multiple_of_32_is_a_manifest_error(tmp_path):
    with pytest.raises(ManifestError):
        SCRFDDetector(pack=_pack_with(tmp_path, scrfd_model(), size=(60, 64)))


def test_tampered_weights_are_never_loaded(tmp_path):
    pack = _pack_with(tmp_path, scrfd_model())
    path = pack / "det.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError):
        SCRFDDetector(pack=pack)


def test_file_that_is_not_onnx_is_a_format_error(tmp_path):
    with pytest.raises(ModelFormatError):
        SCRFDDetector(pack=_pack_with(tmp_path, b"not an onnx graph"))


def test_bad_threshold_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        SCRFDDetector(pack=_pack_with(tmp_path, scrfd_model()), score_threshold=2.0)
