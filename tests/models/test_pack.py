"""Model-pack manifests: parsing, every way a manifest can be wrong, digests, input specs."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from tests.models.onnx_packs import default_pack

from bordermatch.errors import (
    ConfigError,
    ManifestError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from bordermatch.models.pack import InputSpec, load_pack, resolve_pack, verify_pack


@pytest.fixture()
def pack_dir(tmp_path):
    return default_pack(tmp_path / "pack")


def _rewrite(pack_dir, mutate) -> None:
    path = pack_dir / "manifest.json"
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))


def test_valid_pack_loads(pack_dir):
    pack = load_pack(pack_dir)
    assert pack.name == "tiny" and [m.name for m in pack.models] == ["det_tiny", "rec_tiny"]
    det, rec = pack.get("scrfd"), pack.get("arcface")
    assert det.path == pack_dir / "det_tiny.onnx" and det.dim is None
    assert det.input == InputSpec(64, 64, (127.5,) * 3, (128.0,) * 3, "RGB")
    assert rec.dim == 512 and rec.input.width == 112
    assert verify_pack(pack) == {"det_tiny": True, "rec_tiny": True}
    assert pack.read_verified(det) == (pack_dir / "det_tiny.onnx").read_bytes()


def test_get_needs_a_name_when_a_kind_is_ambiguous(pack_dir):
    _rewrite(pack_dir, lambda d: d["models"].append({**d["models"][0], "name": "det_b"}))
    pack = load_pack(pack_dir)
    with pytest.raises(ManifestError, match="several"):
        pack.get("scrfd")
    assert pack.get("scrfd", "det_b").name == "det_b"
    with pytest.raises(ManifestError):
        pack.get("scrfd", "nope")


def _set(path, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return mutate


BAD = {
    "wrong format": _set(["format"], "insightface"),
    "no name": _set(["name"], KeyError),
    "empty models": _set(["models"], []),
    "models not a list": _set(["models"], {"a": 1}),
    "entry not object": _set(["models", 0], "det.onnx"),
    "unknown kind": _set(["models", 0, "kind"], "retinaface"),
    "short sha": _set(["models", 0, "sha256"], "abc123"),
    "no licence": _set(["models", 0, "licence"], KeyError),
    "blank licence": _set(["models", 0, "licence"], "  "),
    "parent path": _set(["models", 0, "file"], "../det_tiny.onnx"),
    "absolute path": _set(["models", 0, "file"], "/etc/passwd"),
    "no input": _set(["models", 0, "input"], KeyError),
    "size one number": _set(["models", 0, "input", "size"], 640),
    "size negative": _set(["models", 0, "input", "size"], [640, -1]),
    "size float": _set(["models", 0, "input", "size"], [640.0, 640]),
    "colour": _set(["models", 0, "input", "colour"], "YUV"),
    "mean two values": _set(["models", 0, "input", "mean"], [1, 2]),
    "mean text": _set(["models", 0, "input", "mean"], "127.5"),
    "std zero": _set(["models", 0, "input", "std"], 0),
    "std nan": _set(["models", 0, "input", "std"], float("nan")),
    "arcface without dim": _set(["models", 1, "dim"], KeyError),
    "arcface dim bool": _set(["models", 1, "dim"], True),
    "duplicate names": _set(["models", 1, "name"], "det_tiny"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifests_raise_manifest_error(pack_dir, case):
    _rewrite(pack_dir, BAD[case])
    with pytest.raises(ManifestError):
        load_pack(pack_dir)


@pytest.mark.parametrize("text", ["", "{not json", "[]", "\xff\xfe"])
def test_unreadable_manifest_raises_manifest_error(pack_dir, text):
    (pack_dir / "manifest.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ManifestError):
        load_pack(pack_dir)


def test_missing_manifest_raises_manifest_error(tmp_path):
    with pytest.raises(ManifestError):
        load_pack(tmp_path)


def test_tampered_file_fails_its_digest(pack_dir):
    path = pack_dir / "rec_tiny.onnx"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    pack = load_pack(pack_dir)
    assert verify_pack(pack) == {"det_tiny": True, "rec_tiny": False}
    with pytest.raises(ModelIntegrityError):
        pack.read_verified(pack.get("arcface"))


def test_missing_weight_file_is_model_not_found(pack_dir):
    (pack_dir / "det_tiny.onnx").unlink()
    pack = load_pack(pack_dir)  # the manifest alone is fine; loading is what fails
    with pytest.raises(ModelNotFoundError):
        pack.read_verified(pack.get("scrfd"))


def test_input_spec_normalises_in_the_stated_channel_order():
    img = np.zeros((2, 3, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 30  # R, G, B
    rgb = InputSpec(3, 2, (0.0, 0.0, 0.0), (1.0, 2.0, 5.0), "RGB").normalise(img)
    assert rgb.shape == (1, 3, 2, 3) and rgb.dtype == np.float32
    assert rgb[0, :, 0, 0].tolist() == [10.0, 10.0, 6.0]
    bgr = InputSpec(3, 2, (30.0, 0.0, 0.0), (1.0, 1.0, 1.0), "BGR").normalise(img)
    assert bgr[0, :, 1, 2].tolist() == [0.0, 20.0, 10.0]


def test_resolve_pack_reads_the_model_pack_setting(pack_dir, monkeypatch):
    monkeypatch.setenv("BORDERMATCH_MODEL_PACK", str(pack_dir))
    assert resolve_pack(None).name == "tiny"
    loaded = load_pack(pack_dir)
    assert resolve_pack(loaded) is loaded
    monkeypatch.delenv("BORDERMATCH_MODEL_PACK")
    with pytest.raises(ConfigError):
        resolve_pack(None)


def test_manifest_is_not_modified_by_loading(pack_dir):
    before = (pack_dir / "manifest.json").read_text()
    doc = copy.deepcopy(json.loads(before))
    load_pack(pack_dir)
    assert json.loads((pack_dir / "manifest.json").read_text()) == doc
