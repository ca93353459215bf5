"""``bordermatch batch enrol|lane-run|worker|status|merge``: a gallery enrolment or a
``lane run`` over recorded events, split into chunks on the broker's work queue, done by any
number of worker processes, resumable.

    bordermatch batch enrol GALLERY_DIR --job JOB            # plan and queue (or resume)
    bordermatch batch lane-run --gallery G --events E --job JOB [--scores]
    bordermatch batch worker                                 # as many as there are hosts
    bordermatch batch status JOB --watch                     # progress bar until done
    bordermatch batch merge JOB --out OUT                    # gallery build's / lane run's file

``... --wait --out OUT`` does the last two itself.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import typer

from bordermatch.cli._common import emit_json, fail, settings
from bordermatch.cli.progress import Quiet, Verbose, output, progress
from bordermatch.errors import BordermatchError

app = typer.Typer(no_args_is_help=True, help="Batch enrolment across processes (RabbitMQ).")

BrokerUrl = typer.Option("amqp://guest:guest@127.0.0.1:5672/%2F", "--broker",
                         envvar="BORDERMATCH_BROKER_URL", help="AMQP URL.")
Queue = typer.Option("bordermatch.batch", "--queue", envvar="BORDERMATCH_BATCH_QUEUE",
                     help="The work queue (its dead letters: QUEUE.dead).")
JobDir = typer.Argument(..., help="The job folder (shared by every worker).")
Requeue = typer.Option(False, "--requeue", help="Queue every unfinished chunk again, also "
                       "those an earlier run queued (the broker lost them, or they were "
                       "dead-lettered and the cause is fixed).")


def _topology(queue: str):
    from bordermatch.batch.tasks import topology

    return topology(queue)


@app.command("enrol")
def enrol(
    gallery_dir: Path = typer.Argument(..., help="Directory with manifest.csv and the photos."),
    job_dir: Path = typer.Option(..., "--job", help="Job folder; an existing job there is "
                                 "resumed (only its unfinished chunks are queued)."),
    chunk: int = typer.Option(50, "--chunk", min=1, help="Travellers per task."),
    embedder: str = typer.Option("sface", help="Recognizer for the templates."),
    detector: str | None = typer.Option(None, help="Face detector (default: settings)."),
    min_quality: float = typer.Option(
        30.0, help="Unified quality below which a photo is enrolled but flagged."),
    same_face_fmr: float = typer.Option(
        1e-5, help="Target FMR of the strict threshold that flags one face under two ids."),
    first_reference_only: bool = typer.Option(False, "--first-reference-only"),
    wait: bool = typer.Option(False, "--wait", help="Wait for the workers, then merge."),
    out: Path | None = typer.Option(None, "--out", help="With --wait: the template file."),
    requeue: bool = Requeue, broker_url: str = BrokerUrl, queue: str = Queue,
    as_json: bool = typer.Option(False, "--json"), quiet: bool = Quiet,
) -> None:
    """Plan the job (chunks of --chunk travellers) and queue each unfinished chunk."""
    from bordermatch.batch import jobs, tasks
    from bordermatch.gallery.build import strict_cosine_threshold

    _need_out(wait, out)
    cfg = settings(detector=detector)
    try:
        job, created = jobs.plan(
            job_dir, gallery_dir, embedder=embedder, detector=cfg.detector,
            detector_options=cfg.detector_options(), min_quality=min_quality,
            same_face_threshold=strict_cosine_threshold(embedder, same_face_fmr),
            first_reference_only=first_reference_only, chunk_travellers=chunk)
        queued = tasks.publish_pending(broker_url, _topology(queue), job, job_dir, requeue)
    except BordermatchError as exc:
        fail(exc, as_json)
    summary = {**jobs.status(job, job_dir), "created": created, "queued": queued}
    _queued(job, job_dir, summary, wait, out, broker_url, queue, as_json, quiet)


def _need_out(wait: bool, out: Path | None) -> None:
    if wait and out is None:
        typer.echo("error (bad_input): --wait needs --out", err=True)
        raise typer.Exit(2)


def _queued(job: Any, job_dir: Path, summary: dict[str, Any], wait: bool, out: Path | None,
            broker_url: str, queue: str, as_json: bool, quiet: bool) -> None:
    if not wait:
        if as_json:
            emit_json(summary)
        else:
            what = ", ".join(f"{v} {k}" for k, v in job.summary().items())
            typer.echo(f"job {job.job_id} ({'new' if summary['created'] else 'resumed'}): "
                       f"{what} in {job.chunks} chunks, {summary['chunks_done']} done, "
                       f"{summary['queued']} queued on {queue}")
        return
    assert out is not None
    _watch(job, job_dir, output(False, quiet), broker_url, queue)
    _merge(job, job_dir, out, as_json)


@app.command("lane-run")
def lane_run(
    gallery: Path = typer.Option(..., help="Gallery template file from `gallery build`."),
    events: Path = typer.Option(..., help="Lane events directory."),
    job_dir: Path = typer.Option(..., "--job", help="Job folder; an existing job there is "
                                 "resumed (only its unfinished chunks are queued)."),
    chunk: int = typer.Option(20, "--chunk", min=1, help="Events per task."),
    thresholds: Path | None = typer.Option(None, help="Open-set thresholds (default: bundled)."),
    detector: str = typer.Option("yunet", help="Face detector (registry name)."),
    detector_score: float | None = typer.Option(None, help="Detector score threshold."),
    layout: Path | None = typer.Option(None, help="This lane's seat zones (JSON)."),
    roi_upscale: float | None = typer.Option(None, help="Upscale of the windshield ROI."),
    link_threshold: float | None = typer.Option(None, help="Cosine to join camera tracklets."),
    shots: int | None = typer.Option(None, help="Shots embedded per camera tracklet."),
    document_fmr: float | None = typer.Option(
        None, help="1:1 FMR at which documents read in the lane are verified."),
    ignore_documents: bool = typer.Option(False, "--ignore-documents"),
    document_thresholds: Path | None = typer.Option(
        None, help="Document-stage operating point from `lane calibrate --document-out`."),
    document_norm: str | None = typer.Option(
        None, help="Document-stage scores: snorm (default), tnorm or none (raw)."),
    scores: bool = typer.Option(
        False, "--scores", help="Truth-labelled events: collect the search and 1:1 scores "
        "`lane calibrate` fits on instead of results; the output is a scores file for "
        "`lane calibrate --scores` and `lane evaluate --scores`."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the workers, then merge."),
    out: Path | None = typer.Option(None, "--out", help="With --wait: the results file "
                                    "(with --scores: the scores file)."),
    requeue: bool = Requeue, broker_url: str = BrokerUrl, queue: str = Queue,
    as_json: bool = typer.Option(False, "--json"), quiet: bool = Quiet,
) -> None:
    """`lane run` across the workers: chunks of --chunk events, merged in event order."""
    from bordermatch.batch import jobs, tasks
    from bordermatch.batch.lane_jobs import LaneJob, LaneScoresJob, plan_lane

    _need_out(wait, out)
    try:
        job, created = plan_lane(
            job_dir, gallery, events, chunk_events=chunk, thresholds=thresholds,
            detector=detector, detector_score=detector_score,
            document_thresholds=document_thresholds, layout=layout, roi_upscale=roi_upscale,
            link_threshold=link_threshold, shots=shots,
            document_fmr=document_fmr, ignore_documents=ignore_documents,
            document_norm=document_norm, kind=LaneScoresJob if scores else LaneJob)
        queued = tasks.publish_pending(broker_url, _topology(queue), job, job_dir, requeue)
    except BordermatchError as exc:
        fail(exc, as_json)
    summary = {**jobs.status(job, job_dir), "created": created, "queued": queued}
    _queued(job, job_dir, summary, wait, out, broker_url, queue, as_json, quiet)


@app.command("worker")
def worker(broker_url: str = BrokerUrl, queue: str = Queue,
           max_tasks: int | None = typer.Option(None, min=1,
                                                help="Exit after this many tasks."),
           threads: int = typer.Option(
               0, min=0, max=256, help="Threads per model (0: every core). With a worker "
               "per core, 1.")) -> None:
    """Take chunk tasks one at a time; write each chunk's result, then acknowledge it."""
    from bordermatch.batch.worker import run

    try:
        n = run(broker_url, _topology(queue), max_tasks=max_tasks, threads=threads)
    except BordermatchError as exc:
        fail(exc)
    typer.echo(f"batch worker stopped after {n} tasks", err=True)


@app.command("status")
def status(job_dir: Path = JobDir, watch: bool = typer.Option(
               False, "--watch", help="A progress bar until every chunk is done."),
           broker_url: str = BrokerUrl, queue: str = Queue,
           as_json: bool = typer.Option(False, "--json"), quiet: bool = Quiet) -> None:
    """Chunks done of the total, and the tasks waiting in (and dead-lettered from) the queue."""
    from bordermatch.batch import jobs

    try:
        job = jobs.load_job(job_dir)
        if watch:
            _watch(job, job_dir, output(False, quiet), broker_url, queue)
        report = {**jobs.status(job, job_dir), **_depth(broker_url, queue)}
    except BordermatchError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(report)
        return
    what = ", ".join(f"{v} {k}" for k, v in job.summary().items())
    typer.echo(f"{job.kind} job {report['job_id']}: {report['chunks_done']}/{report['chunks']} "
               f"chunks done ({what}); queue {queue}: "
               f"{report.get('ready', '?')} waiting, {report.get('dead', '?')} dead")


@app.command("merge")
def merge(job_dir: Path = JobDir,
          out: Path = typer.Option(..., "--out", help="The template file (OUT.npz + "
                                   "OUT.json), the results lines or the scores file."),
          as_json: bool = typer.Option(False, "--json"), verbose: bool = Verbose) -> None:
    """Write the job's output once every chunk is done: the gallery template file (what
    gallery build writes), the results lines (what lane run writes) or a scores file."""
    from bordermatch.batch import jobs

    try:
        job = jobs.load_job(job_dir)
    except BordermatchError as exc:
        fail(exc, as_json)
    _merge(job, job_dir, out, as_json)


def _merge(job: Any, job_dir: Path, out: Path, as_json: bool) -> None:
    from bordermatch.batch import jobs
    from bordermatch.batch.lane_jobs import LaneJob, merge_lane
    from bordermatch.gallery.file import save

    if isinstance(job, LaneJob):
        try:
            n = merge_lane(job, job_dir, out)
        except BordermatchError as exc:
            fail(exc, as_json)
        if as_json:
            emit_json({"events": n, "out": str(out)})
        else:
            typer.echo(f"{n} events -> {out}")
        return
    try:
        gallery = jobs.merge(job, job_dir)
        npz, sidecar = save(gallery, out)
    except BordermatchError as exc:
        fail(exc, as_json)
    report = gallery.report
    if as_json:
        emit_json(report)
        return
    typer.echo(f"enrolled {report['enrolled']} photos of {report['travelers']} travellers "
               f"from {report['rows']} rows -> {npz} (+ {sidecar.name}); "
               f"{len(report['rejected'])} rejected, {len(report['flagged'])} flagged, "
               f"{len(report['same_face_pairs'])} same-face pairs")


def _depth(broker_url: str, queue: str) -> dict[str, Any]:
    from bordermatch.batch.tasks import queue_depth
    from bordermatch.errors import ConfigError

    try:
        return queue_depth(broker_url, _topology(queue))
    except ConfigError:  # the files tell progress without the broker
        return {}


def _watch(job: Any, job_dir: Path, shown: Any, broker_url: str, queue: str) -> None:
    """A bar of chunks done until all are; a dead-lettered chunk of this job stops it, and
    a queue no worker consumes is said once (the wait goes on: workers may start later)."""
    desc = "enrolling" if job.kind == "enrol" else "lane events"
    idle_said = False
    with progress(desc, "chunk", shown, total=job.chunks, delay_s=0.0) as bar:
        for tick in itertools.count():
            done = len(job.done(job_dir))
            bar.done_of(done, job.chunks)
            if done == job.chunks:
                return
            # The queue every 5 s, not every poll: each look is a connection.
            depth = _depth(broker_url, queue) if tick % 10 == 9 else {}
            if depth.get("dead") and _dead_of(job, broker_url, queue):
                typer.echo(f"error (bad_job): chunks of job {job.job_id} were dead-lettered; "
                           f"see bordermatch ingest dead-letters --queue {queue}", err=True)
                raise typer.Exit(2)
            if depth.get("consumers") == 0 and not idle_said:
                idle_said = True
                typer.echo(f"waiting: no worker consumes queue {queue}; start one with "
                           f"bordermatch batch worker --queue {queue}", err=True)
            time.sleep(0.5)


def _dead_of(job: Any, broker_url: str, queue: str) -> bool:
    from bordermatch.ingest.broker import dead_letters

    return any(str(d["message_id"]).startswith(f"{job.job_id}/")
               for d in dead_letters(broker_url, _topology(queue)))
