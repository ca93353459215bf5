from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bordermatch.errors import ModelIntegrityError, ModelNotFoundError
from bordermatch.models.bundled import BUNDLED, SFACE, YUNET
from bordermatch.models.manifest import ModelFile
from bordermatch.models.onnx_prep import (
    fold_weight_dequantization,
    prepare,
    strip_unused_inputs,
)
from bordermatch.models.verify import locate, read_verified, sha256_file, verify_file


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_file_matches_its_digest(name):
    model = BUNDLED[name]
    assert sha256_file(locate(model)) == model.sha256
    assert model.licence and model.source


def test_tampered_file_is_refused(tmp_path):
    bad = tmp_path / "m.onnx"
    bad.write_bytes(locate(YUNET).read_bytes()[:-1] + b"\x00")
    tampered = dataclasses.replace(YUNET, package=None, path=str(bad))
    with pytest.raises(ModelIntegrityError):
        read_verified(tampered)
    with pytest.raises(ModelIntegrityError):
        prepare(tampered)


def test_missing_digest_is_refused(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    with pytest.raises(ModelIntegrityError):
        verify_file(ModelFile("x", "detector", str(f), "", "MIT", "test"))


def test_missing_carrier_package():
    ghost = dataclasses.replace(YUNET, package="no_such_carrier_pkg")
    with pytest.raises(ModelNotFoundError):
        locate(ghost)


def test_sface_raw_graph_declares_unused_inputs_and_preparation_removes_them():
    raw = onnx.load(str(locate(SFACE)))
    assert len(raw.graph.input) > 100  # initializers and ~29 unread names listed as inputs
    stripped = strip_unused_inputs(raw)
    assert [i.name for i in stripped.graph.input] == ["data"]


def test_prepared_graph_digest_is_checked():
    # Recorded digest of the prepared (stripped + folded) graph must match what we produce.
    assert SFACE.prepared_sha256
    prepare(SFACE)
    wrong = dataclasses.replace(SFACE, prepared_sha256="0" * 64)
    with pytest.raises(ModelIntegrityError):
        prepare(wrong)


def test_prepared_sface_runs_in_onnxruntime_and_matches_unfolded_graph():
    import onnxruntime as ort

    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    folded = ort.InferenceSession(prepare(SFACE), providers=["CPUExecutionProvider"])
    unfolded_proto = strip_unused_inputs(onnx.load(str(locate(SFACE))))
    unfolded = ort.InferenceSession(unfolded_proto.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
    a = folded.run(None, {"data": x})[0]
    b = unfolded.run(None, {"data": x})[0]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_fold_block_dequantization_matches_reference_semantics():
    q = np.array([[1, 2, 3, 4], [-1, -2, -3, -4]], np.int8)
    scale = np.array([[0.5, 2.0], [1.0, 0.25]], np.float32)
    zero = np.array([[1, 0], [0, 1]], np.int8)
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["w"], axis=1, block_size=2)
    ident = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node, ident], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [numpy_helper.from_array(q, "q"), numpy_helper.from_array(scale, "s"),
         numpy_helper.from_array(zero, "z")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    folded = fold_weight_dequantization(model)
    assert [n.op_type for n in folded.graph.node] == ["Add"]
    w = {i.name: numpy_helper.to_array(i) for i in folded.graph.initializer}["w"]
    expected = np.array([[0.0, 0.5, 6.0, 8.0], [-1.0, -2.0, -1.0, -1.25]], np.float32)
    np.testing.assert_allclose(w, expected)
