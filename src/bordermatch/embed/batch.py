"""One recognizer call for the faces of many frames.

An embedder that exposes its alignment (``chips``) and its network (``embed_chips``) can
embed the shots of a whole vehicle in one batch: one call per frame pays the runtime's
per-call overhead and runs small batches, which OpenCV DNN and onnxruntime execute less
efficiently per face (docs/benchmarks.md). The vectors are those of ``embed`` on each
frame (tests/embed/test_batch.py checks it).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bordermatch.protocols import Embedder
from bordermatch.types import Face, Image

MAX_BATCH = 64  # chips per network call: ~10 MB of float32 input, a vehicle's shots


@runtime_checkable
class ChipEmbedder(Protocol):
    dim: int

    def chips(self, image: Image, faces: Sequence[Face]) -> list[Image]: ...

    def embed_chips(self, chips: Sequence[Image]) -> NDArray[np.float32]: ...


def embed_frames(embedder: Embedder, frames: Sequence[tuple[Image, Sequence[Face]]],
                 max_batch: int = MAX_BATCH) -> list[NDArray[np.float32]]:
    """The vectors of each frame's faces, ``(len(faces), dim)`` per frame, in order."""
    if not isinstance(embedder, ChipEmbedder):
        return [embedder.embed(image, faces) for image, faces in frames]
    chips = [c for image, faces in frames for c in embedder.chips(image, faces)]
    if not chips:
        return [np.zeros((0, embedder.dim), np.float32) for _ in frames]
    vectors = np.concatenate([embedder.embed_chips(chips[i:i + max_batch])
                              for i in range(0, len(chips), max_batch)])
    bounds = np.cumsum([0] + [len(faces) for _, faces in frames])
    return [vectors[a:b] for a, b in itertools.pairwise(bounds)]
