"""A batch enrolment job on disk: its spec, its chunks' results, and the merge.

A job is a folder (on a file system every worker mounts)::

    <job>/job.json            the spec: job id, gallery directory, manifest SHA-256, models,
                              options, chunk size and count; written once, atomically
    <job>/chunks/00000.npz    one chunk's result, written atomically (temporary file, fsync,
                              rename): it exists whole or not at all

A chunk is ``chunk_travellers`` consecutive travellers of the manifest (all rows of a
traveller stay in one chunk, so "first reference only" means what it means in one
process). A chunk's result depends on its rows alone, so a chunk enrolled twice (a worker
killed after writing and before its ack, a resumed publisher) writes the same file again:
the merge sees each chunk, and each row, exactly once. The merge concatenates the chunks in
manifest order and runs the same ``gallery.build.assemble`` as ``gallery build``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bordermatch.errors import ManifestError
from bordermatch.gallery.build import Enrolled, assemble
from bordermatch.gallery.file import GalleryTemplates
from bordermatch.gallery.manifest import Manifest, ManifestRow, read_manifest

FORMAT = "bordermatch-batch/1"
SPEC_FIELDS = ("gallery_dir", "manifest_sha256", "embedder", "detector", "detector_options",
               "min_quality", "same_face_threshold", "first_reference_only",
               "chunk_travellers")


class JobError(ManifestError):
    """A job folder that is missing, damaged, or does not match its manifest any more."""

    code = "bad_job"


class Chunked:
    """What every kind of job has: chunks whose results are files in ``<job>/chunks``."""

    job_id: str
    chunks: int
    kind: ClassVar[str]
    suffix: ClassVar[str]

    def chunk_path(self, job_dir: Path, chunk: int) -> Path:
        return Path(job_dir) / "chunks" / f"{chunk:05d}{self.suffix}"

    def done(self, job_dir: Path) -> list[int]:
        # One listing of the folder, not a stat per chunk: a million-photo job has tens of
        # thousands of chunks, polled every half second on a shared file system.
        try:
            names = {e.name for e in os.scandir(Path(job_dir) / "chunks") if e.is_file()}
        except FileNotFoundError:
            names = set()
        return [c for c in range(self.chunks) if self.chunk_path(job_dir, c).name in names]

    def pending(self, job_dir: Path) -> list[int]:
        done = set(self.done(job_dir))
        return [c for c in range(self.chunks) if c not in done]

    def summary(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class EnrolJob(Chunked):
    kind: ClassVar[str] = "enrol"
    suffix: ClassVar[str] = ".npz"
    job_id: str
    gallery_dir: str  # absolute
    manifest_sha256: str
    embedder: str
    detector: str
    detector_options: dict[str, float]
    min_quality: float
    same_face_threshold: float
    first_reference_only: bool
    chunk_travellers: int
    chunks: int
    travellers: int
    rows: int

    def summary(self) -> dict[str, Any]:
        return {"travellers": self.travellers, "rows": self.rows}

    # -- the manifest's share of each chunk --------------------------------------------------
    def manifest(self) -> Manifest:
        """The manifest, refused when it changed since the job was planned."""
        gallery_dir = Path(self.gallery_dir)
        if manifest_sha256(gallery_dir) != self.manifest_sha256:
            raise JobError(f"job {self.job_id}: {gallery_dir}/manifest.csv changed since the "
                           "job was planned; start a new job")
        return read_manifest(gallery_dir)

    def chunk_travellers_of(self, travellers: Sequence[tuple[str, list[ManifestRow]]],
                            chunk: int) -> Sequence[tuple[str, list[ManifestRow]]]:
        """Chunk ``chunk`` of ``travellers`` (the manifest's, in order)."""
        if not 0 <= chunk < self.chunks:
            raise JobError(f"job {self.job_id} has no chunk {chunk} (it has {self.chunks})")
        start = chunk * self.chunk_travellers
        return travellers[start:start + self.chunk_travellers]


def manifest_sha256(gallery_dir: Path) -> str:
    path = Path(gallery_dir) / "manifest.csv"
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None


def plan(job_dir: Path, gallery_dir: Path, *, embedder: str, detector: str,
         detector_options: dict[str, float], min_quality: float, same_face_threshold: float,
         first_reference_only: bool, chunk_travellers: int) -> tuple[EnrolJob, bool]:
    """The job in ``job_dir``: the one already planned there (resuming: its spec must match
    this one) or a new one. Returns (job, created)."""
    if chunk_travellers < 1:
        raise JobError("chunk size must be at least 1 traveller")
    gallery_dir = Path(gallery_dir).resolve()
    manifest = read_manifest(gallery_dir)
    wanted: dict[str, Any] = {
        "gallery_dir": str(gallery_dir), "manifest_sha256": manifest_sha256(gallery_dir),
        "embedder": embedder, "detector": detector, "detector_options": dict(detector_options),
        "min_quality": float(min_quality), "same_face_threshold": float(same_face_threshold),
        "first_reference_only": bool(first_reference_only),
        "chunk_travellers": int(chunk_travellers)}
    planned = existing_job(job_dir, EnrolJob, wanted, SPEC_FIELDS)
    if planned is not None:
        return planned, False
    n_travellers = len(manifest.travellers())
    job = EnrolJob(job_id=uuid.uuid4().hex, **wanted,
                   chunks=-(-n_travellers // chunk_travellers), travellers=n_travellers,
                   rows=manifest.n_rows)
    write_spec(job_dir, job)
    return job, True


def existing_job(job_dir: Path, kind: type, wanted: dict[str, Any],
                 fields: Sequence[str]) -> Any:
    """The job already planned in ``job_dir`` (None if none), refused unless it is a ``kind``
    job with the same ``fields`` as ``wanted``: a resumed job must be the same job."""
    spec = Path(job_dir) / "job.json"
    if not spec.exists():
        return None
    job = load_job(job_dir)
    if type(job) is not kind:  # a lane-scores job is a lane job, but not the same job
        raise JobError(f"{spec}: a {job.kind} job is planned there; use another folder")
    have = asdict(job)  # type: ignore[call-overload]
    differ = [k for k in fields if have[k] != wanted[k]]
    if differ:
        raise JobError(f"{spec}: a job with other {', '.join(differ)} is planned there; "
                       "use another job folder")
    return job


def write_spec(job_dir: Path, job: Chunked) -> None:
    (Path(job_dir) / "chunks").mkdir(parents=True, exist_ok=True)
    spec = {"format": FORMAT, "kind": job.kind, **asdict(job)}  # type: ignore[call-overload]
    atomic_write(Path(job_dir) / "job.json", json.dumps(spec, indent=1).encode())


def load_job(job_dir: Path) -> Chunked:
    spec = Path(job_dir) / "job.json"
    try:
        meta = json.loads(spec.read_text())
    except FileNotFoundError:
        raise JobError(f"{spec}: no batch job there") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise JobError(f"{spec}: unreadable job spec ({exc})") from None
    if not isinstance(meta, dict) or meta.pop("format", None) != FORMAT:
        raise JobError(f"{spec}: not a {FORMAT} job")
    from bordermatch.batch.lane_jobs import LaneJob, LaneScoresJob

    kinds: dict[str, type] = {"enrol": EnrolJob, "lane": LaneJob, "lane-scores": LaneScoresJob}
    cls = kinds.get(meta.pop("kind", None))
    if cls is None:
        raise JobError(f"{spec}: unknown job kind")
    try:
        return cls(**meta)
    except TypeError as exc:
        raise JobError(f"{spec}: damaged job spec ({exc})") from None


# -- chunk results ---------------------------------------------------------------------------
def atomic_write(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, and durably (the rename is fsynced too)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class Engine:
    """What made a chunk's templates: every chunk of a job must agree on it."""

    model: str
    detector: str
    dim: int


def write_chunk(job: EnrolJob, job_dir: Path, chunk: int, part: Enrolled, engine: Engine
                ) -> Path:
    docs = np.asarray(part.docs, dtype=str).reshape(len(part.docs), 3)
    notes = json.dumps({"rejected": part.rejected, "flagged": part.flagged,
                        "engine": asdict(engine)})
    dim = engine.dim
    buf = io.BytesIO()
    np.savez(buf, job_id=np.asarray(job.job_id), chunk=np.asarray(chunk),
             ids=np.asarray(part.ids, dtype=str),
             vectors=np.asarray(part.vectors, np.float32).reshape(len(part.ids),
                                                                  dim if not part.ids else -1),
             quality=np.asarray(part.quality, np.float64), docs=docs, notes=np.asarray(notes))
    path = job.chunk_path(job_dir, chunk)
    atomic_write(path, buf.getvalue())
    return path


def read_chunk(job: EnrolJob, job_dir: Path, chunk: int) -> tuple[Enrolled, Engine]:
    path = job.chunk_path(job_dir, chunk)
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["job_id"]) != job.job_id or int(data["chunk"]) != chunk:
                raise JobError(f"{path}: belongs to another job or chunk")
            notes = json.loads(str(data["notes"]))
            part = Enrolled(ids=[str(x) for x in data["ids"]], vectors=list(data["vectors"]),
                            quality=[float(q) for q in data["quality"]],
                            docs=[(str(a), str(b), str(c)) for a, b, c in data["docs"]],
                            rejected=notes["rejected"], flagged=notes["flagged"])
            return part, Engine(**notes["engine"])
    except FileNotFoundError:
        raise JobError(f"job {job.job_id}: chunk {chunk} is not done") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise JobError(f"{path}: unreadable chunk result ({exc})") from None


def merge(job: EnrolJob, job_dir: Path) -> GalleryTemplates:
    """The gallery, once every chunk is done; what ``gallery build`` writes for the same rows."""
    pending = job.pending(job_dir)
    if pending:
        raise JobError(f"job {job.job_id}: {len(pending)} of {job.chunks} chunks not done "
                       f"(first: {pending[0]})")
    read = [read_chunk(job, job_dir, c) for c in range(job.chunks)]
    engines = {engine for _, engine in read}
    if len(engines) > 1:  # workers with other model versions: the templates do not mix
        names = sorted(f"{e.model}/{e.detector}" for e in engines)
        raise JobError(f"job {job.job_id}: chunks made by different engines {names}")
    engine = engines.pop() if engines else Engine(job.embedder, job.detector, 0)
    return assemble(job.manifest(), [part for part, _ in read], model=engine.model,
                    dim=engine.dim, detector=engine.detector, min_quality=job.min_quality,
                    same_face_threshold=job.same_face_threshold)


def status(job: Chunked, job_dir: Path) -> dict[str, Any]:
    done = job.done(job_dir)
    return {"job_id": job.job_id, "kind": job.kind, "chunks": job.chunks,
            "chunks_done": len(done), **job.summary(), "complete": len(done) == job.chunks}
