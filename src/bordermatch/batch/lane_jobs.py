"""A batch ``lane run`` (or the scores ``lane calibrate`` observes events for): recorded
events split into chunks of event folders.

The job's spec names the gallery template file (with the SHA-256 its sidecar records), the
events directory and the event folders in it at planning time (recordings arriving later
do not move the chunks), and ``lane run``'s options. A worker builds the pipeline
``lane run`` builds (``lane.runner.build_pipeline``, ``lane.runner.lane_config``) and runs
each event through ``lane.runner.run_event``; a chunk's result is its events' results lines,
written atomically as ``<job>/chunks/NNNNN.jsonl``. The merge concatenates them in event
order: the file ``lane run`` writes, but for each line's measured ``latency_ms`` and
``timings_ms``. A lane-scores job (:class:`LaneScoresJob`, same spec) writes each chunk's
search and 1:1 scores instead (``lane.scores``, ``NNNNN.npz``), pooled by the merge in
event order into the scores file ``lane calibrate --scores`` and ``lane evaluate
--scores`` read.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from bordermatch.batch.jobs import (
    Chunked,
    JobError,
    atomic_write,
    existing_job,
    write_spec,
)

CONFIG_KEYS = ("fusion", "roi_upscale", "link_threshold", "cameras", "last_frames", "shots",
               "layout", "document_fmr", "ignore_documents", "document_norm")


@dataclass(frozen=True)
class LaneJob(Chunked):
    kind: ClassVar[str] = "lane"
    suffix: ClassVar[str] = ".jsonl"
    job_id: str
    gallery: str  # absolute path of the template file
    gallery_sha256: str  # the npz's, as its sidecar records it
    events_dir: str  # absolute
    events: list[str]  # the event folder names, in order
    thresholds: str | None
    detector: str
    detector_score: float | None
    document_thresholds: str | None
    config: dict[str, Any]  # lane_config's keyword arguments
    chunk_events: int
    chunks: int

    def summary(self) -> dict[str, Any]:
        return {"events": len(self.events)}

    def chunk_events_of(self, chunk: int) -> list[Path]:
        if not 0 <= chunk < self.chunks:
            raise JobError(f"job {self.job_id} has no chunk {chunk} (it has {self.chunks})")
        names = self.events[chunk * self.chunk_events:(chunk + 1) * self.chunk_events]
        return [Path(self.events_dir) / n for n in names]


@dataclass(frozen=True)
class LaneScoresJob(LaneJob):
    kind: ClassVar[str] = "lane-scores"
    suffix: ClassVar[str] = ".npz"


def _gallery_sha256(gallery: Path) -> str:
    from bordermatch.gallery.file import paths

    _, sidecar = paths(gallery)
    try:
        return str(json.loads(sidecar.read_text())["npz_sha256"])
    except FileNotFoundError:
        raise JobError(f"{sidecar}: gallery sidecar not found") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobError(f"{sidecar}: unreadable gallery sidecar ({exc})") from None


def plan_lane(job_dir: Path, gallery: Path, events_dir: Path, *, chunk_events: int,
              thresholds: Path | None = None, detector: str = "yunet",
              detector_score: float | None = None, document_thresholds: Path | None = None,
              kind: type[LaneJob] = LaneJob, **config: Any) -> tuple[LaneJob, bool]:
    """The lane job (or ``kind``) in ``job_dir``: the one planned there (same spec) or a
    new one."""
    from bordermatch.gallery.file import paths
    from bordermatch.lane.events import event_folders

    if chunk_events < 1:
        raise JobError("chunk size must be at least 1 event")
    unknown = set(config) - set(CONFIG_KEYS)
    if unknown:
        raise JobError(f"unknown lane options {sorted(unknown)}")
    npz, _ = paths(gallery)

    def absolute(p: Path | None) -> str | None:
        return None if p is None else str(Path(p).resolve())

    config = {k: (absolute(v) if k == "layout" else v) for k, v in config.items()}
    wanted: dict[str, Any] = {
        "gallery": str(npz.resolve()), "gallery_sha256": _gallery_sha256(gallery),
        "events_dir": str(Path(events_dir).resolve()), "thresholds": absolute(thresholds),
        "detector": detector, "detector_score": detector_score,
        "document_thresholds": absolute(document_thresholds), "config": config,
        "chunk_events": chunk_events}
    planned = existing_job(job_dir, kind, wanted, list(wanted))
    if planned is not None:
        return planned, False
    names = [f.name for f in event_folders(Path(events_dir))]
    job = kind(job_id=uuid.uuid4().hex, events=names,
               chunks=-(-len(names) // chunk_events), **wanted)
    write_spec(job_dir, job)
    return job, True


class Pipelines:
    """One lane pipeline per job spec, built once per worker (a gallery's search index and
    the models take seconds), and each gallery's same-face partners."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}
        self._partners: dict[str, dict[str, set[str]]] = {}

    def partners(self, job: LaneJob) -> dict[str, set[str]]:
        from bordermatch.gallery.file import load as load_gallery
        from bordermatch.lane.runner import same_face_partners

        key = f"{job.gallery}|{job.gallery_sha256}"
        if key not in self._partners:
            self._partners[key] = same_face_partners(load_gallery(Path(job.gallery)).report)
        return self._partners[key]

    def get(self, job: LaneJob) -> Any:
        from bordermatch.lane.runner import build_pipeline, lane_config

        key = json.dumps({"kind": job.kind, **{
            k: v for k, v in asdict(job).items()
            if k not in ("job_id", "events", "chunks", "chunk_events")}}, sort_keys=True)
        if key not in self._built:
            if _gallery_sha256(Path(job.gallery)) != job.gallery_sha256:
                raise JobError(f"job {job.job_id}: {job.gallery} changed since the job was "
                               "planned; start a new job")
            cfg = dict(job.config)
            if cfg.get("layout"):
                cfg["layout"] = Path(cfg["layout"])
            # A scores job observes for calibration: no open-set point need exist yet.
            self._built[key] = build_pipeline(
                Path(job.gallery), _path(job.thresholds), lane_config(**cfg), job.detector,
                job.detector_score, document_thresholds=_path(job.document_thresholds),
                observing=isinstance(job, LaneScoresJob))
        return self._built[key]


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def run_lane_chunk(job: LaneJob, job_dir: Path, chunk: int, pipelines: Pipelines) -> bool:
    """Run one chunk's events and write their lines (a scores job: observe them and write
    their scores); False when already written."""
    path = job.chunk_path(job_dir, chunk)
    if path.is_file():
        return False
    folders = job.chunk_events_of(chunk)
    pipeline = pipelines.get(job)
    if isinstance(job, LaneScoresJob):
        from bordermatch.lane.scores import observe

        observed_with = {"detector": job.detector, "detector_score": job.detector_score,
                         "config": job.config, "gallery_sha256": job.gallery_sha256}
        data = observe(pipeline, folders, pipelines.partners(job), observed_with).to_bytes()
    else:
        from bordermatch.lane.events import result_to_json
        from bordermatch.lane.runner import run_event

        data = "".join(json.dumps(result_to_json(run_event(pipeline, f))) + "\n"
                       for f in folders).encode()
    atomic_write(path, data)
    return True


def merge_lane(job: LaneJob, job_dir: Path, out: Path) -> int:
    """Write the results file (a scores job: the pooled scores file) once every chunk is
    done; returns its number of events."""
    pending = job.pending(job_dir)
    if pending:
        raise JobError(f"job {job.job_id}: {len(pending)} of {job.chunks} chunks not done "
                       f"(first: {pending[0]})")
    chunks = [job.chunk_path(job_dir, c) for c in range(job.chunks)]
    if isinstance(job, LaneScoresJob):
        from bordermatch.lane.scores import LaneScores, pool

        pooled = pool([LaneScores.read(c) for c in chunks], f"job {job.job_id}")
        data, events = pooled.to_bytes(), int(pooled.meta["events"])
    else:
        data = b"".join(c.read_bytes() for c in chunks)
        events = data.count(b"\n")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(out), data)
    return events
