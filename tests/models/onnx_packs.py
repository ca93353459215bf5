"""Tiny ONNX files with the insightface SCRFD / ArcFace signatures, and packs around them.

The SCRFD graph has the real structure (a stride-8 stem, stride 16 and 32 by further strided
convolutions, and per stride 1x1 heads for score (sigmoid), box and keypoints, permuted to
NHWC and reshaped to (n, k) rows with 2 anchors per cell). With ``predictable=True`` its
weights make the output known in closed form: the stride-8 score fires only on a cell whose
8x8 pixels are all white, and every box/keypoint is a fixed offset from the anchor centre.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Predictable-mode geometry, in stride units from the anchor centre.
BOX_DIST = (2.0, 2.0, 2.0, 2.0)  # left, top, right, bottom
KPS_OFFSETS = ((-1.0, -0.5), (1.0, -0.5), (0.0, 0.0), (-0.8, 1.0), (0.8, 1.0))
SCRFD_OUTPUT_ORDER = [f"{k}_{s}" for k in ("score", "bbox", "kps") for s in (8, 16, 32)]


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array, np.float32), name)


def scrfd_model(
    predictable: bool = True,
    input_hw: tuple[int | str, int | str] = ("H", "W"),
    output_order: list[str] | None = None,
    with_kps: bool = True,
    seed: int = 0,
) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    ch = 4
    inits, nodes = [], []
    stem = rng.normal(0, 0.05, (ch, 3, 8, 8))
    if predictable:
        stem[0] = 1.0  # channel 0 sums the normalised pixels of each 8x8 cell
    inits.append(_init("stem_w", stem))
    nodes.append(helper.make_node("Conv", ["input.1", "stem_w"], ["f8"], strides=[8, 8]))
    for src, dst in (("f8", "f16"), ("f16", "f32")):
        w = rng.normal(0, 0.3, (ch, ch, 2, 2))
        inits.append(_init(f"{dst}_w", w))
        nodes.append(helper.make_node("Conv", [src, f"{dst}_w"], [dst], strides=[2, 2]))
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "flat1"))
    heads = [("score", 1), ("bbox", 4)] + ([("kps", 10)] if with_kps else [])
    for stride in (8, 16, 32):
        for head, k in heads:
            w = rng.normal(0, 0.1, (2 * k, ch, 1, 1))
            b = rng.normal(0, 0.1, (2 * k,))
            if predictable:
                w = np.zeros_like(w)
                if head == "score":
                    w[:, 0] = 0.1 if stride == 8 else 0.0
                    b = np.full(2, -5.0 if stride == 8 else -20.0)
                elif head == "bbox":
                    b = np.tile(BOX_DIST, 2)
                else:
                    b = np.tile(np.ravel(KPS_OFFSETS), 2)
            name = f"{head}_{stride}"
            inits += [_init(f"{name}_w", w), _init(f"{name}_b", b)]
            inits.append(numpy_helper.from_array(np.array([-1, k], np.int64), f"{name}_shape"))
            nodes.append(helper.make_node("Conv", [f"f{stride}", f"{name}_w", f"{name}_b"],
                                          [f"{name}_conv"]))
            raw = f"{name}_conv"
            if head == "score":
                nodes.append(helper.make_node("Sigmoid", [raw], [f"{name}_sig"]))
                raw = f"{name}_sig"
            nodes.append(helper.make_node("Transpose", [raw], [f"{name}_nhwc"], perm=[0, 2, 3, 1]))
            nodes.append(helper.make_node("Reshape", [f"{name}_nhwc", f"{name}_shape"], [name]))
    names = [n for n in (output_order or SCRFD_OUTPUT_ORDER) if with_kps or "kps" not in n]
    widths = {"score": 1, "bbox": 4, "kps": 10}
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["n", widths[n.split("_")[0]]])
               for n in names]
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, *input_hw])
    graph = helper.make_graph(nodes, "scrfd_tiny", [inp], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def arcface_model(dim: int = 512, batch: int | str = "None", seed: int = 0) -> onnx.ModelProto:
    """Random conv + linear projection with the insightface recognition signature."""
    rng = np.random.default_rng(seed)
    inits = [
        _init("conv_w", rng.normal(0, 0.05, (8, 3, 16, 16))),
        _init("fc_w", rng.normal(0, 0.05, (8 * 7 * 7, dim))),
        _init("fc_b", np.zeros(dim)),
    ]
    nodes = [
        helper.make_node("Conv", ["input.1", "conv_w"], ["c1"], strides=[16, 16]),
        helper.make_node("Flatten", ["c1"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["683"]),
    ]
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [batch, 3, 112, 112])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, [batch, dim])
    graph = helper.make_graph(nodes, "arcface_tiny", [inp], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


SCRFD_INPUT = {"size": [64, 64], "mean": 127.5, "std": 128.0, "colour": "RGB"}
ARCFACE_INPUT = {"size": [112, 112], "mean": 127.5, "std": 127.5, "colour": "RGB"}


def write_pack(root: Path, models: dict[str, tuple[onnx.ModelProto | bytes, dict]],
               name: str = "tiny") -> Path:
    """Write each model and a manifest with its true SHA-256. ``models``: file -> (model, entry)."""
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for file, (model, entry) in models.items():
        data = model if isinstance(model, bytes) else model.SerializeToString()
        (root / file).write_bytes(data)
        entries.append({"file": file, "sha256": hashlib.sha256(data).hexdigest(),
                        "licence": "test fixture, no weights of value", **entry})
    manifest = {"format": "bordermatch-model-pack/1", "name": name, "models": entries}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root


def default_pack(root: Path, **scrfd_kwargs) -> Path:
    return write_pack(root, {
        "det_tiny.onnx": (scrfd_model(**scrfd_kwargs),
                          {"name": "det_tiny", "kind": "scrfd", "input": SCRFD_INPUT}),
        "rec_tiny.onnx": (arcface_model(),
                          {"name": "rec_tiny", "kind": "arcface", "dim": 512,
                           "input": ARCFACE_INPUT}),
    })
