"""User-supplied model packs: a folder with ``manifest.json`` and the weight files beside it.

bordermatch never downloads weights. Operators who hold a licence for, say, insightface's
``buffalo_l`` copy the ONNX files into a folder, write a manifest stating each file's
SHA-256, licence, kind and input spec, and point ``BORDERMATCH_MODEL_PACK`` at it::

    {
      "format": "bordermatch-model-pack/1",
      "name": "buffalo_l",
      "models": [
        {"name": "det_10g", "kind": "scrfd", "file": "det_10g.onnx",
         "sha256": "<64 hex>", "licence": "insightface: non-commercial research only",
         "input": {"size": [640, 640], "mean": 127.5, "std": 128.0, "colour": "RGB"}},
        {"name": "w600k_r50", "kind": "arcface", "file": "w600k_r50.onnx",
         "sha256": "<64 hex>", "licence": "...", "dim": 512,
         "input": {"size": [112, 112], "mean": 127.5, "std": 127.5, "colour": "RGB"}}
      ]
    }

``mean`` and ``std`` are a number or one number per channel, applied as
``(pixel - mean) / std`` in the stated channel order. ``size`` is [width, height]. Every
problem with the manifest raises ManifestError; a missing file raises ModelNotFoundError;
a file whose bytes do not match ``sha256`` raises ModelIntegrityError when it is loaded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError, ManifestError, ModelFormatError
from bordermatch.models.manifest import ModelFile
from bordermatch.models.onnx_prep import session
from bordermatch.models.verify import locate, read_verified, sha256_file

MANIFEST = "manifest.json"
FORMAT = "bordermatch-model-pack/1"
KINDS = {"scrfd": "detector", "arcface": "embedder"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class InputSpec:
    """How pixels become the network input: ``(pixel - mean) / std`` in ``colour`` order."""

    width: int
    height: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    colour: str  # "RGB" or "BGR"

    def normalise(self, rgb: NDArray) -> NDArray[np.float32]:
        """HWC uint8 RGB -> NCHW float32 blob of batch 1 (no resizing)."""
        x = np.asarray(rgb, np.float32)
        if self.colour == "BGR":
            x = x[:, :, ::-1]
        # numpy's stubs infer complex128 for this float32 expression.
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(  # type: ignore[assignment]
            self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


@dataclass(frozen=True, slots=True)
class PackModel:
    name: str
    kind: str  # a key of KINDS
    path: Path
    sha256: str
    licence: str
    input: InputSpec
    dim: int | None = None  # embedding size, for recognizers

    def model_file(self, pack: str) -> ModelFile:
        """The verified-loading description used by models.verify and models.onnx_prep."""
        return ModelFile(name=f"{pack}/{self.name}", kind=KINDS[self.kind], path=str(self.path),
                         sha256=self.sha256, licence=self.licence, source=f"model pack {pack}")


@dataclass(frozen=True, slots=True)
class ModelPack:
    name: str
    root: Path
    models: tuple[PackModel, ...]

    def get(self, kind: str, name: str | None = None) -> PackModel:
        """The pack's model of this kind (by name when the pack holds several)."""
        found = [m for m in self.models if m.kind == kind and (name is None or m.name == name)]
        if not found:
            raise ManifestError(f"model pack {self.name!r} has no {kind} model"
                                + (f" named {name!r}" if name else ""))
        if len(found) > 1:
            raise ManifestError(f"model pack {self.name!r} has several {kind} models "
                                f"({', '.join(m.name for m in found)}); name one")
        return found[0]

    def read_verified(self, model: PackModel) -> bytes:
        """The model's bytes after checking their SHA-256 (ModelIntegrityError if not)."""
        return read_verified(model.model_file(self.name))

    def session(self, model: PackModel, threads: int = 0):
        """An onnxruntime session on the verified bytes; non-ONNX is a ModelFormatError."""
        data = self.read_verified(model)
        try:
            return session(data, threads)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
            raise ModelFormatError(f"{model.name}: onnxruntime cannot load it ({exc})") from exc


def load_pack(root: str | Path) -> ModelPack:
    """Parse and check a pack's manifest. Does not read the weights (that happens on load)."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{root}: no {MANIFEST}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ManifestError(f"{path}: expected an object with \"format\": \"{FORMAT}\"")
    name = _text(doc, "name", path)
    entries = doc.get("models")
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path}: \"models\" must be a non-empty list")
    models = tuple(_model(root, e, f"{path} models[{i}]") for i, e in enumerate(entries))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ManifestError(f"{path}: model names must be unique, got {names}")
    return ModelPack(name=name, root=root, models=models)


def verify_pack(pack: ModelPack) -> dict[str, bool]:
    """Check every file's SHA-256 without loading anything: name -> digest matches."""
    out = {}
    for m in pack.models:
        path = locate(m.model_file(pack.name))
        out[m.name] = sha256_file(path) == m.sha256
    return out


def _model(root: Path, entry: Any, where: str) -> PackModel:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: must be an object")
    kind = _text(entry, "kind", where)
    if kind not in KINDS:
        raise ManifestError(f"{where}: kind {kind!r} is not one of {sorted(KINDS)}")
    sha = _text(entry, "sha256", where).lower()
    if not _SHA256.match(sha):
        raise ManifestError(f"{where}: sha256 must be 64 hexadecimal digits")
    file = Path(_text(entry, "file", where))
    # The pack is a closed folder: a manifest must not point the loader elsewhere.
    if file.is_absolute() or ".." in file.parts:
        raise ManifestError(f"{where}: file {str(file)!r} must be a path inside the pack")
    dim = entry.get("dim")
    if kind == "arcface" and (not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0):
        raise ManifestError(f"{where}: an arcface model needs \"dim\", a positive integer")
    return PackModel(
        name=_text(entry, "name", where),
        kind=kind,
        path=root / file,
        sha256=sha,
        licence=_text(entry, "licence", where),
        input=_input(entry.get("input"), where),
        dim=dim if kind == "arcface" else None,
    )


def _input(spec: Any, where: str) -> InputSpec:
    if not isinstance(spec, dict):
        raise ManifestError(f"{where}: \"input\" must be an object with size, mean, std, colour")
    size = spec.get("size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ManifestError(f"{where}: input.size must be [width, height], positive integers")
    colour = spec.get("colour")
    if colour not in ("RGB", "BGR"):
        raise ManifestError(f"{where}: input.colour must be \"RGB\" or \"BGR\"")
    mean = _triple(spec.get("mean"), f"{where}: input.mean")
    std = _triple(spec.get("std"), f"{where}: input.std")
    if min(abs(s) for s in std) < 1e-6:
        raise ManifestError(f"{where}: input.std must not be zero")
    return InputSpec(width=size[0], height=size[1], mean=mean, std=std, colour=colour)


def _triple(value: Any, where: str) -> tuple[float, float, float]:
    values = value if isinstance(value, list) else [value] * 3
    if len(values) != 3 or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in values
    ):
        raise ManifestError(f"{where} must be a number or a list of three numbers")
    return (float(values[0]), float(values[1]), float(values[2]))


def _text(doc: dict, key: str, where: Any) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: \"{key}\" must be a non-empty string")
    return value


def resolve_pack(pack: ModelPack | str | Path | None) -> ModelPack:
    """A loaded pack from a pack, a folder, or (None) the ``model_pack`` setting.

    Registry factories receive only backend keyword arguments, so the pack location, a
    deployment setting, is read here at construction time (never at import).
    """
    if isinstance(pack, ModelPack):
        return pack
    if pack is None:
        from bordermatch.config import Settings

        pack = Settings().model_pack
        if pack is None:
            raise ConfigError("no model pack given: pass pack=... or set BORDERMATCH_MODEL_PACK")
    return load_pack(pack)
