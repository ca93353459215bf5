"""SFace (OpenCV Zoo 2021dec, int8 block-quantised, 128-D) on OpenCV DNN or onnxruntime.

Both runtimes read the same verified, prepared graph and agree to ~2e-6. OpenCV DNN is
the default because it is faster for this network here (9.8 ms vs 15 ms per face on 2
cores, docs/benchmarks.md); an OpenCV ``Net`` is not thread-safe, so calls are serialised
with a lock (the service shares one engine across request threads).

Input: the 112x112 ArcFace-aligned chip, RGB, 0-255 unnormalised, NCHW (this matches
OpenCV's FaceRecognizerSF, which feeds BGR with swapRB). With ``flip`` the embedding is the
sum of the chip's and its mirror's, a standard test-time augmentation.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bordermatch.embed.align import align
from bordermatch.errors import ConfigError
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

    def __init__(self, flip: bool = False, threads: int = 0,
                 runtime: Literal["opencv", "onnxruntime"] = "opencv") -> None:
        self.flip = flip
        self.runtime = runtime
        graph = prepare(SFACE)
        if runtime == "opencv":
            import cv2

            self._net = cv2.dnn.readNetFromONNX(np.frombuffer(graph, np.uint8))
            self._lock = threading.Lock()
        elif runtime == "onnxruntime":
            self._session = session(graph, threads)
            self._input = self._session.get_inputs()[0].name
        else:
            raise ConfigError(f"unknown SFace runtime {runtime!r}")

    def embed_chips(self, chips: Sequence[Image]) -> NDArray[np.float32]:
        if not len(chips):
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._run(np.stack(chips))
        if self.flip:
            out = out + self._run(np.stack([c[:, ::-1] for c in chips]))
        return l2_normalise(out)

    def embed(self, image: Image, faces: Sequence[Face]) -> NDArray[np.float32]:
        return self.embed_chips([align(image, f.landmarks) for f in faces])

    def _run(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        blob = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
        if self.runtime == "onnxruntime":
            return self._session.run(None, {self._input: blob})[0]
        with self._lock:
            self._net.setInput(blob)
            return np.array(self._net.forward(), dtype=np.float32)


def create(**kwargs) -> SFaceEmbedder:
    return SFaceEmbedder(**kwargs)
