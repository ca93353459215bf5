"""``bordermatch batch worker``: take chunk tasks one at a time, do the chunk with the one
path its kind has (enrolment: ``gallery.build.enrol_travellers``; lane events:
``lane.runner.run_event``; lane scores: ``lane.scores.observe``), write its result
atomically in the job folder, and only then acknowledge.

A worker killed mid-chunk leaves its task unacknowledged: the broker hands it to another
worker, which enrols the chunk from the start (a chunk writes nothing until it is whole). A
worker killed after writing and before acknowledging leaves a task whose result exists:
the next worker sees the file and acknowledges without enrolling again. A task no retry can
fix (a malformed task, a job folder that is gone, a manifest changed since planning) goes
to ``<queue>.dead`` with its reason; any other failure is requeued, and the last try
dead-letters it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bordermatch.batch import jobs, tasks
from bordermatch.batch.lane_jobs import LaneJob, Pipelines, run_lane_chunk
from bordermatch.errors import BordermatchError
from bordermatch.gallery.build import enrol_travellers
from bordermatch.ingest import broker

log = logging.getLogger(__name__)


class Engines:
    """The models of each (recognizer, detector, options) a job asks for, built once per
    worker: loading them costs seconds, a chunk may take less.

    ``threads`` (0: every core) is each model's thread count: with one worker per core,
    one thread each keeps the workers from contending for the same cores."""

    def __init__(self, threads: int = 0) -> None:
        self._built: dict[str, tuple[Any, Any, Any]] = {}
        self._manifests: dict[str, tuple[tuple[int, int], list[Any]]] = {}
        self.lanes = Pipelines()  # lane jobs: the pipeline lane run builds
        self.threads = threads
        if threads:
            import cv2

            cv2.setNumThreads(threads)  # process-wide: the OpenCV DNN runtime of SFace

    def get(self, job: jobs.EnrolJob) -> tuple[Any, Any, Any]:
        key = f"{job.embedder}|{job.detector}|{sorted(job.detector_options.items())}"
        if key not in self._built:
            from bordermatch import registry
            from bordermatch.gallery.enrol import portrait_detector
            from bordermatch.quality.measures import FaceQualityAssessor

            extra = {"threads": self.threads} if self.threads else {}
            self._built[key] = (
                portrait_detector(job.detector, {**job.detector_options, **extra}),
                registry.create("embedder", job.embedder, **extra), FaceQualityAssessor())
        return self._built[key]

    def travellers(self, job: jobs.EnrolJob) -> list[Any]:
        """The job's manifest as (traveller, rows) in order, read and checked once while the
        file's size and modification time stay as they were (a million-row manifest takes
        seconds to parse, and a chunk of 50 travellers less)."""
        path = Path(job.gallery_dir) / "manifest.csv"
        try:
            st = path.stat()
        except FileNotFoundError:
            raise jobs.JobError(f"{path}: manifest not found") from None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._manifests.get(job.job_id)
        if cached is None or cached[0] != stamp:
            cached = (stamp, list(job.manifest().travellers().items()))
            self._manifests[job.job_id] = cached
        return cached[1]


def enrol_chunk(job: jobs.EnrolJob, job_dir: Path, chunk: int, engines: Engines) -> bool:
    """Enrol one chunk and write its result; False when the result was already there."""
    if job.chunk_path(job_dir, chunk).is_file():
        return False
    travellers = job.chunk_travellers_of(engines.travellers(job), chunk)
    portrait, embedder, assessor = engines.get(job)
    part = enrol_travellers(Path(job.gallery_dir), travellers,
                            portrait, embedder, assessor, min_quality=job.min_quality,
                            first_reference_only=job.first_reference_only)
    engine = jobs.Engine(embedder.name, portrait.name, int(getattr(embedder, "dim", 0)))
    jobs.write_chunk(job, job_dir, chunk, part, engine)
    return True


def handle(body: bytes, engines: Engines) -> tuple[str, str]:
    """(outcome, detail) of one task: ``done``, ``skipped`` (result already there), ``dead``
    (no retry can fix it) or ``retry``."""
    try:
        task = tasks.decode(body)
        job_dir = Path(task.job_dir)
        job = jobs.load_job(job_dir)
        if job.job_id != task.job_id:
            raise jobs.JobError(f"{job_dir} holds job {job.job_id}, not {task.job_id}")
        if isinstance(job, LaneJob):  # lane run and lane scores
            did = run_lane_chunk(job, job_dir, task.chunk, engines.lanes)
        else:
            assert isinstance(job, jobs.EnrolJob)
            did = enrol_chunk(job, job_dir, task.chunk, engines)
        return ("done" if did else "skipped"), ""
    except BordermatchError as exc:
        return "dead", f"{exc.code}: {exc}"
    except Exception as exc:  # a full disk, a bug: retried, then dead-lettered
        log.exception("batch task failed; it will be retried")
        return "retry", f"{type(exc).__name__}: {exc}"[:500]


def run(url: str, topo: broker.Topology, max_tasks: int | None = None,
        stop: threading.Event | None = None,
        on_task: Callable[[str, str], None] | None = None, threads: int = 0) -> int:
    """Consume tasks (prefetch 1) until ``stop`` is set, SIGTERM arrives or ``max_tasks``
    were handled; returns how many were handled."""
    engines = Engines(threads)
    stopping = stop or threading.Event()
    handled = 0

    def on_message(channel: Any, method: Any, props: Any, body: bytes) -> None:
        nonlocal handled
        headers = dict(props.headers or {})
        tries = int(headers.get("x-delivery-count") or 0) + 1
        print(f"start {props.message_id} try {tries}", file=sys.stderr, flush=True)
        outcome, detail = broker.beside_heartbeats(channel, lambda: handle(body, engines))
        if outcome == "retry" and tries < topo.max_deliveries:
            channel.basic_reject(method.delivery_tag, requeue=True)
        else:
            if outcome in ("dead", "retry"):
                reason = detail.split(":")[0] if outcome == "dead" else \
                    f"failed {tries} times: {detail.split(':')[0]}"
                headers.update({"x-bordermatch-reason": reason,
                                "x-bordermatch-detail": detail[:1000]})
                broker.publish(channel, topo.dead, body, headers, message_id=props.message_id)
            channel.basic_ack(method.delivery_tag)
        print(f"{outcome} {props.message_id} {detail}".rstrip(), file=sys.stderr, flush=True)
        if on_task is not None:
            on_task(outcome, props.message_id or "")
        handled += 1
        if max_tasks is not None and handled >= max_tasks:
            stopping.set()

    broker.consume(url, topo, on_message, stopping, "bordermatch batch worker")
    return handled
