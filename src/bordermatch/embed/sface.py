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
from collections.abc import Callable, Sequence
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


Run = Callable[[NDArray[np.float32]], NDArray[np.float32]]


def _opencv(graph: bytes, threads: int) -> Run:
    """OpenCV DNN. ``threads`` is not applied: OpenCV's thread count is process-wide
    (``cv2.setNumThreads``), not a property of one network."""
    import cv2

    net = cv2.dnn.readNetFromONNX(np.frombuffer(graph, np.uint8))
    lock = threading.Lock()  # a Net is not thread-safe, and request threads share one

    def run(blob: NDArray[np.float32]) -> NDArray[np.float32]:
        with lock:
            net.setInput(blob)
            return np.array(net.forward(), dtype=np.float32)

    return run


def _onnxruntime(graph: bytes, threads: int) -> Run:
    sess = session(graph, threads)
    name = sess.get_inputs()[0].name

    def run(blob: NDArray[np.float32]) -> NDArray[np.float32]:
        return sess.run(None, {name: blob})[0]

    return run


# runtime -> loader(prepared graph, threads) returning the NCHW batch -> embeddings call.
RUNTIMES: dict[str, Callable[[bytes, int], Run]] = {
    "opencv": _opencv,
    "onnxruntime": _onnxruntime,
}


class SFaceEmbedder:
    name = "sface"
    dim = 128

    def __init__(self, flip: bool = False, threads: int = 0,
                 runtime: Literal["opencv", "onnxruntime"] = "opencv") -> None:
        load = RUNTIMES.get(runtime)
        if load is None:
            raise ConfigError(f"unknown SFace runtime {runtime!r}; "
                              f"known: {', '.join(RUNTIMES)}")
        self.flip = flip
        self.runtime = runtime
        self._run_blob = load(prepare(SFACE), threads)

    def embed_chips(self, chips: Sequence[Image]) -> NDArray[np.float32]:
        if not len(chips):
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._run(np.stack(chips))
        if self.flip:
            out = out + self._run(np.stack([c[:, ::-1] for c in chips]))
        return l2_normalise(out)

    def embed(self, image: Image, faces: Sequence[Face]) -> NDArray[np.float32]:
        return self.embed_chips(self.chips(image, faces))

    def chips(self, image: Image, faces: Sequence[Face]) -> list[Image]:
        """The aligned chips the network sees, one per face (``embed.batch`` batches them)."""
        return [align(image, f.landmarks) for f in faces]

    def _run(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        blob = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
        return self._run_blob(blob)


def create(**kwargs) -> SFaceEmbedder:
    return SFaceEmbedder(**kwargs)
