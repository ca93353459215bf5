"""The small interfaces that backends implement. Each has a fake in ``tests/fakes.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bordermatch.types import Face, Image, Quality


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, image: Image) -> list[Face]:
        """Every face in an RGB image, best first."""
        ...


@runtime_checkable
class ThresholdedDetector(Detector, Protocol):
    """A detector whose score threshold is a constructor argument (``score_threshold``).

    All bundled detectors are; the subject-face rule (gallery/enrol.py) needs it to ask for
    weaker faces when a portrait has none at the operating point.
    """

    score_threshold: float


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, image: Image, faces: Sequence[Face]) -> NDArray[np.float32]:
        """One L2-normalised row of shape (dim,) per face, in order."""
        ...


@runtime_checkable
class QualityAssessor(Protocol):
    def assess(self, image: Image, face: Face) -> Quality: ...


@runtime_checkable
class Index(Protocol):
    """Inner-product search over L2-normalised vectors."""

    def add(self, ids: Sequence[str], vectors: NDArray[np.float32]) -> None: ...

    def search(
        self, queries: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], list[list[str]]]:
        """Scores (n, k) in descending order and the ids behind them."""
        ...
