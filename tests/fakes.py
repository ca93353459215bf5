"""Small fakes for every Protocol, for unit tests that need no model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bordermatch.types import Face, Image, Quality


def make_face(x1: float = 10, y1: float = 10, size: float = 100, score: float = 0.9) -> Face:
    s = size / 112.0
    from bordermatch.embed.align import ARCFACE_112

    lm = (ARCFACE_112 * s + [x1, y1]).astype(np.float32)
    return Face(box=np.array([x1, y1, x1 + size, y1 + size], np.float32), landmarks=lm,
                score=score, detector="fake")


class FakeDetector:
    """Returns the faces it was given, whatever the image."""

    name = "fake"

    def __init__(self, faces: Sequence[Face] = ()) -> None:
        self.faces = list(faces)

    def detect(self, image: Image) -> list[Face]:
        return list(self.faces)


class FakeEmbedder:
    """Embeds a face by the mean colour of its box: same pixels, same template."""

    def __init__(self, name: str = "fake", dim: int = 8) -> None:
        self.name = name
        self.dim = dim

    def embed(self, image: Image, faces: Sequence[Face]) -> np.ndarray:
        out = np.zeros((len(faces), self.dim), np.float32)
        for i, f in enumerate(faces):
            x1, y1, x2, y2 = (int(v) for v in f.box)
            patch = image[max(0, y1):y2, max(0, x1):x2].reshape(-1, 3).mean(0)
            seed = np.concatenate([patch, patch[::-1], patch[:2]])[: self.dim] + 1.0
            out[i] = seed / np.linalg.norm(seed)
        return out


class FakeQuality:
    def __init__(self, unified: float = 80.0) -> None:
        self.unified = unified

    def assess(self, image: Image, face: Face) -> Quality:
        return Quality(face.inter_eye_distance, face.height, 90.0, 0.0, 0.0, 7.5, 128.0,
                       0.0, 0.0, 0.0, self.unified)


class FakeIndex:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.vectors = np.zeros((0, 0), np.float32)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        self.ids += list(ids)
        self.vectors = vectors if self.vectors.size == 0 else np.vstack([self.vectors, vectors])

    def search(self, queries: np.ndarray, k: int):
        scores = queries @ self.vectors.T
        order = np.argsort(-scores, axis=1)[:, :k]
        return np.take_along_axis(scores, order, 1), [[self.ids[j] for j in row] for row in order]
