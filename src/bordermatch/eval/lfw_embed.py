"""Embed LFW images once each through the real pipeline, in worker processes, with a cache.

Pipeline per image: decode (bordermatch.io) -> YuNet -> the product's subject-face rule
(``gallery/enrol.py``: the largest face discounted by its distance from the centre, with
the retry at a lower detector score) -> SFace on the ArcFace-aligned 112x112 chip, and dlib
on its own 150x150 chip. The face chosen here is the one ``verify`` and enrolment choose,
so the figures measure the product.

An image with no face even at the retry score counts as a failure to enrol (FTE) and every
pair that uses it is scored as a non-match (the lowest possible score). That is the honest
outcome for a verification system, and the report states how many pairs it affected.

The cache is an ``.npz`` keyed by the pipeline configuration, outside the repository
(default ``~/.cache/bordermatch``), written incrementally so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.types import Image

log = logging.getLogger(__name__)

MODELS = ("sface", "dlib")
STATUS_OK, STATUS_RETRY, STATUS_FTE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class EmbedConfig:
    """Everything that changes an embedding; its hash names the cache file."""

    detector_score: float = 0.6
    retry_score: float = 0.3
    # Images whose longer side is below this are enlarged (bicubic) for detection only;
    # boxes and landmarks are mapped back and the recognizers see the original pixels.
    # YuNet's int8 landmarks on LFW's ~100 px faces are coarse, and every alignment error
    # costs recognition accuracy (measured in docs/benchmarks.md).
    detect_min_side: int = 500
    dlib_box: str = "landmarks"
    # 3: the subject is chosen by gallery.enrol (was: the face nearest the centre).
    version: int = 3  # bump when the pipeline changes in a way the fields do not show

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True, eq=False)
class Embeddings:
    """Templates of many images: row i of every array belongs to ``names[i]``."""

    names: tuple[str, ...]
    vectors: dict[str, NDArray[np.float32]]  # model -> (n, 128), zero rows for FTE
    status: NDArray[np.int8]  # STATUS_OK / STATUS_RETRY / STATUS_FTE
    times: NDArray[np.float32]  # (n, 3) seconds: detect, SFace, dlib (measured in workers)

    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bordermatch"


class _Pipeline:
    """The models of one worker process (onnxruntime and dlib single-threaded)."""

    def __init__(self, config: EmbedConfig) -> None:
        from bordermatch.detect.yunet import YuNetDetector
        from bordermatch.embed.dlib_resnet import DlibResNetEmbedder
        from bordermatch.embed.sface import SFaceEmbedder
        from bordermatch.gallery.enrol import PortraitDetector

        self.config = config
        low = YuNetDetector(score_threshold=min(config.retry_score, config.detector_score),
                            threads=1, min_side=config.detect_min_side)
        self.detector = PortraitDetector(low, config.detector_score)
        self.sface = SFaceEmbedder(flip=False, threads=1)
        # A string from the CLI or JSON: the embedder rejects an unknown box mode.
        self.dlib = DlibResNetEmbedder(box_mode=config.dlib_box)  # type: ignore[arg-type]

    def run(self, path: str) -> tuple[int, NDArray[np.float32], NDArray[np.float32]]:
        """(status, templates (3, 128): SFace, SFace of the mirrored chip, dlib;
        timings (3,) in seconds: detect, SFace (one chip), dlib)."""
        from bordermatch.embed.align import align
        from bordermatch.errors import ImageError, NoFaceError
        from bordermatch.io.images import load_image

        vectors = np.zeros((3, 128), np.float32)
        times = np.zeros(3, np.float32)
        try:
            image: Image = load_image(path)
        except ImageError as exc:
            log.warning("%s", exc)
            return STATUS_FTE, vectors, times
        t0 = time.perf_counter()
        # One detector pass at the retry threshold, so "retry" costs nothing extra.
        try:
            choice = self.detector.subject(image)
        except NoFaceError:
            return STATUS_FTE, vectors, np.array([time.perf_counter() - t0, 0, 0], np.float32)
        times[0] = time.perf_counter() - t0
        status = STATUS_RETRY if choice.retried else STATUS_OK
        face = choice.face
        t0 = time.perf_counter()
        chip = align(image, face.landmarks)
        vectors[0] = self.sface.embed_chips([chip])[0]
        times[1] = time.perf_counter() - t0
        # The mirror is kept separately so flip augmentation is an evaluation-time choice.
        vectors[1] = self.sface.embed_chips([np.ascontiguousarray(chip[:, ::-1])])[0]
        t0 = time.perf_counter()
        vectors[2] = self.dlib.embed(image, [face])[0]
        times[2] = time.perf_counter() - t0
        return status, vectors, times


_WORKER: _Pipeline | None = None


def _init_worker(config: EmbedConfig) -> None:
    global _WORKER
    # Each process is one of ``workers``; nested thread pools would only fight for cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER = _Pipeline(config)


def _work(item: tuple[int, str]) -> tuple:
    i, path = item
    if _WORKER is None:
        raise RuntimeError("worker not initialised")
    return (i, *_WORKER.run(path))


def cache_path(cache_dir: Path, config: EmbedConfig) -> Path:
    return Path(cache_dir) / f"lfw-embeddings-{config.key()}.npz"


Row = tuple[int, NDArray[np.float32], NDArray[np.float32]]  # status, vectors (3,128), times


def load_cache(path: Path) -> dict[str, Row]:
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {str(n): (int(s), v, t) for n, s, v, t in
                zip(z["names"], z["status"], z["vectors"], z["times"], strict=True)}


def save_cache(path: Path, done: dict[str, Row], config: EmbedConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(done)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, names=np.array(names), status=np.array([done[n][0] for n in names], np.int8),
             vectors=np.array([done[n][1] for n in names], np.float32).reshape(-1, 3, 128),
             times=np.array([done[n][2] for n in names], np.float32).reshape(-1, 3),
             config=json.dumps(asdict(config)))
    tmp.replace(path)  # atomic: an interrupted save never leaves a broken cache


def embed_images(root: Path, names: Sequence[str], config: EmbedConfig, cache_dir: Path,
                 workers: int = 2, progress: bool = True, save_every: int = 500,
                 flip: bool = False) -> Embeddings:
    """Templates for ``root / name`` for every name, computing only what the cache lacks.

    With ``flip`` the SFace template is the normalised sum of the chip's and its mirror's
    (normalised) embeddings: test-time flip augmentation at one extra SFace run.
    """
    path = cache_path(cache_dir, config)
    done = load_cache(path)
    todo = [n for n in dict.fromkeys(names) if n not in done]
    log.info("%d images, %d cached in %s, %d to embed", len(set(names)), len(done), path,
             len(todo))
    if todo:
        _embed_missing(root, todo, config, done, path, workers, progress, save_every)
    rows = [done[n] for n in names]
    v = np.array([r[1] for r in rows], np.float32).reshape(-1, 3, 128)
    sface = v[:, 0] + v[:, 1] if flip else v[:, 0]
    return Embeddings(
        names=tuple(names),
        vectors={"sface": _normalise(sface), "dlib": v[:, 2].copy()},
        status=np.array([r[0] for r in rows], np.int8),
        times=np.array([r[2] for r in rows], np.float32).reshape(-1, 3),
    )


def _normalise(x: NDArray[np.float32]) -> NDArray[np.float32]:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def _embed_missing(root: Path, todo: list[str], config: EmbedConfig, done: dict,
                   path: Path, workers: int, progress: bool, save_every: int) -> None:
    from tqdm import tqdm

    items = [(i, str(Path(root) / n)) for i, n in enumerate(todo)]
    bar = tqdm(total=len(items), desc="embedding", unit="img", disable=not progress)
    since_save = 0

    def record(result: tuple) -> None:
        nonlocal since_save
        i, status, vectors, times = result
        done[todo[i]] = (status, vectors, times)
        bar.update(1)
        since_save += 1
        if since_save >= save_every:
            save_cache(path, done, config)
            since_save = 0

    try:
        if workers <= 1:
            _init_worker(config)
            for item in items:
                record(_work(item))
        else:
            import multiprocessing as mp

            # "spawn": dlib and onnxruntime hold threads that do not survive fork safely.
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
                for result in pool.imap_unordered(_work, items, chunksize=8):
                    record(result)
    finally:
        bar.close()
        save_cache(path, done, config)
