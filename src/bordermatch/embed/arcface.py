"""ArcFace recognizers from a user-supplied insightface-format model pack (models/pack.py).

The insightface recognition exports (buffalo_l ``w600k_r50``, buffalo_s ``w600k_mbf``) take
the 112x112 chip aligned to the ArcFace 5-point template (embed/align.py, the same
alignment SFace uses), normalised as the manifest's input spec says (insightface:
``(pixel - 127.5) / 127.5``, RGB), and return one embedding row of ``dim`` (512) floats.
We L2-normalise it so scores are cosine similarities, like every other embedder here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.embed.align import align
from bordermatch.embed.sface import l2_normalise
from bordermatch.errors import ManifestError, ModelFormatError
from bordermatch.models.pack import ModelPack, resolve_pack
from bordermatch.types import Face, Image


class ArcFaceEmbedder:
    name = "arcface"

    def __init__(
        self,
        pack: ModelPack | str | Path | None = None,
        model: str | None = None,
        flip: bool = False,
        threads: int = 0,
    ) -> None:
        self.pack = resolve_pack(pack)
        self.spec = self.pack.get("arcface", model)
        spec = self.spec.input
        if spec.width != spec.height:
            raise ManifestError(f"{self.spec.name}: ArcFace input must be square, "
                                f"got {spec.width}x{spec.height}")
        self.size = spec.width
        self.dim = int(self.spec.dim or 0)
        self.flip = flip
        self._session = self.pack.session(self.spec, threads)
        self._input, self._batched = self._check_signature()

    def _check_signature(self) -> tuple[str, bool]:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        name = self.spec.name
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs) != 1:
            raise ModelFormatError(f"{name}: ArcFace has one NCHW input and one output")
        n, c, h, w = inputs[0].shape
        if c != 3 or any(isinstance(d, int) and d != self.size for d in (h, w)):
            raise ModelFormatError(f"{name}: graph input {inputs[0].shape} does not take "
                                   f"{self.size}x{self.size} RGB chips")
        out_dim = outputs[0].shape[-1]
        if isinstance(out_dim, int) and out_dim != self.dim:
            raise ModelFormatError(f"{name}: graph gives {out_dim}-D embeddings, manifest "
                                   f"says {self.dim}")
        return inputs[0].name, not isinstance(n, int) or n != 1

    def embed_chips(self, chips: Sequence[Image]) -> NDArray[np.float32]:
        if not chips:
            return np.zeros((0, self.dim), np.float32)
        out = self._run(chips)
        if self.flip:
            out = out + self._run([c[:, ::-1] for c in chips])
        return l2_normalise(out)

    def embed(self, image: Image, faces: Sequence[Face]) -> NDArray[np.float32]:
        return self.embed_chips(self.chips(image, faces))

    def chips(self, image: Image, faces: Sequence[Face]) -> list[Image]:
        """The aligned chips the network sees, one per face (``embed.batch`` batches them)."""
        return [align(image, f.landmarks, size=self.size) for f in faces]

    def _run(self, chips: Sequence[Image]) -> NDArray[np.float32]:
        blobs = [self.spec.input.normalise(c) for c in chips]
        if self._batched:
            rows = self._session.run(None, {self._input: np.concatenate(blobs)})[0]
        else:
            rows = np.concatenate([self._session.run(None, {self._input: b})[0] for b in blobs])
        rows = np.asarray(rows, np.float32).reshape(len(chips), -1)
        if rows.shape[1] != self.dim:
            raise ModelFormatError(f"{self.spec.name}: got {rows.shape[1]}-D embeddings, "
                                   f"manifest says {self.dim}")
        return rows


def create(**kwargs) -> ArcFaceEmbedder:
    return ArcFaceEmbedder(**kwargs)
