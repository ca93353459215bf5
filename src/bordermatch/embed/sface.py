"""SFace (OpenCV Zoo 2021dec, int8 block-quantised, 128-D) on onnxruntime.

Input: the 112x112 ArcFace-aligned chip, RGB, 0-255 unnormalised, NCHW (this matches
OpenCV's FaceRecognizerSF, which feeds BGR with swapRB). With ``flip`` the embedding is the
sum of the chip's and its mirror's, a standard test-time augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bordermatch.embed.align import align
from bordermatch.models.bundled import SFACE
from bordermatch.models.onnx_prep import prepare, session
from bordermatch.types import Face, Image


def l2_normalise(x: NDArray) -> NDArray[np.float32]:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class SFaceEmbedder:
    name = "sface"
    dim = 128

    def __init__(self, flip: bool = False, threads: int = 0) -> None:
        self.flip = flip
        self._session = session(prepare(SFACE), threads)
        self._input = self._session.get_inputs()[0].name

    def embed_chips(self, chips: Sequence[Image]) -> NDArray[np.float32]:
        out = np.zeros((len(chips), self.dim), dtype=np.float32)
        for i, chip in enumerate(chips):
            out[i] = self._run(chip)
            if self.flip:
                out[i] += self._run(chip[:, ::-1])
        return l2_normalise(out)

    def embed(self, image: Image, faces: Sequence[Face]) -> NDArray[np.float32]:
        return self.embed_chips([align(image, f.landmarks) for f in faces])

    def _run(self, chip: Image) -> NDArray[np.float32]:
        blob = np.ascontiguousarray(chip.transpose(2, 0, 1)[None], dtype=np.float32)
        return self._session.run(None, {self._input: blob})[0][0]


def create(**kwargs) -> SFaceEmbedder:
    return SFaceEmbedder(**kwargs)
