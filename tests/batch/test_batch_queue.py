"""Batch enrolment on a real RabbitMQ (skipped without one): worker processes share a job,
one is killed with SIGKILL mid-chunk, a publisher dies part way and is resumed; the merged
gallery is the single-process one, with every row exactly once."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.api.ingest_helpers import broker_or_skip, in_flight, wait_for
from tests.batch.batch_helpers import assert_same_gallery, make_gallery, plan_job, single_process

from bordermatch.batch import jobs, tasks
from bordermatch.batch.worker import run
from bordermatch.gallery.build import strict_cosine_threshold
from bordermatch.gallery.manifest import read_manifest
from bordermatch.ingest import broker


@pytest.fixture
def amqp():
    return broker_or_skip()


@pytest.fixture
def topo(amqp):
    t = tasks.topology(f"bm-batch-test-{secrets.token_hex(4)}")
    yield t
    conn = broker.connect(amqp)
    ch = conn.channel()
    for q in (t.queue, t.dead):
        ch.queue_delete(q)
    conn.close()


@pytest.fixture(scope="module")
def threshold():
    return strict_cosine_threshold("sface", 1e-5)


FINISHED = ("done", "skipped", "dead", "retry")  # the worker's log words that end a message


def _every_row_once(gallery, gallery_dir: Path) -> None:
    manifest = read_manifest(gallery_dir)
    enrolled = set(gallery.document_numbers)
    rejected = {r.document_number for r in manifest.rows} - enrolled
    assert len(gallery.document_numbers) == len(enrolled)  # nothing twice
    assert len(rejected) == len(gallery.report["rejected"])  # nothing lost


def test_a_resumed_publisher_queues_only_unfinished_chunks(amqp, topo, tmp_path, publicdomain,
                                                           astronaut, threshold):
    gallery_dir = make_gallery(tmp_path, publicdomain, astronaut, rows=16)
    job_dir = tmp_path / "job"
    job, _ = plan_job(job_dir, gallery_dir, threshold, chunk=2)
    assert job.chunks == 4
    # The publisher died after confirming chunks 0 and 1.
    conn = broker.connect(amqp)
    ch = conn.channel()
    ch.confirm_delivery()
    broker.declare(ch, topo)
    for c in (0, 1):
        t = tasks.ChunkTask(str(job_dir.resolve()), job.job_id, c)
        broker.publish(ch, topo.queue, t.encode(), message_id=t.message_id)
    conn.close()
    seen: list[tuple[str, str]] = []
    assert run(amqp, topo, max_tasks=1, on_task=lambda o, m: seen.append((o, m))) == 1
    # Resumed: planning finds the job, and chunks 1-3 (no result yet, none marked queued)
    # are queued; chunk 1 is then in the queue twice.
    again, created = plan_job(job_dir, gallery_dir, threshold, chunk=2)
    assert not created and again.job_id == job.job_id
    assert tasks.queued_through(job_dir) == -1
    assert tasks.publish_pending(amqp, topo, again, job_dir) == 3
    assert tasks.queue_depth(amqp, topo)["ready"] == 4
    # Resumed once more (the publisher died while waiting): all marked queued, none again.
    assert tasks.publish_pending(amqp, topo, again, job_dir) == 0
    assert run(amqp, topo, max_tasks=4, on_task=lambda o, m: seen.append((o, m))) == 4
    ids = f"{job.job_id}/"
    assert seen == [("done", ids + "0"), ("done", ids + "1"), ("skipped", ids + "1"),
                    ("done", ids + "2"), ("done", ids + "3")]
    assert tasks.queue_depth(amqp, topo) == {"queue": topo.queue, "ready": 0, "dead": 0,
                                             "consumers": 0}
    assert tasks.queued_through(job_dir) == 3
    merged = jobs.merge(job, job_dir)
    assert_same_gallery(merged, single_process(gallery_dir, threshold))
    _every_row_once(merged, gallery_dir)


def _worker(log: Path, amqp: str, topo) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bordermatch", "batch", "worker",
                             "--broker", amqp, "--queue", topo.queue],
                            env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))


@pytest.mark.slow
def test_sigkill_mid_chunk_the_job_completes_with_every_row_once(
        amqp, topo, tmp_path, publicdomain, astronaut, threshold):
    gallery_dir = make_gallery(tmp_path, publicdomain, astronaut, rows=28)
    job_dir = tmp_path / "job"
    job, _ = plan_job(job_dir, gallery_dir, threshold, chunk=2)
    assert tasks.publish_pending(amqp, topo, job, job_dir) == job.chunks == 7
    logs = [tmp_path / f"worker{k}.log" for k in range(2)]
    victim = _worker(logs[0], amqp, topo)
    survivor = None
    try:
        # The victim's first chunk also loads the models: it is mid-chunk for seconds.
        killed = wait_for(lambda: in_flight(logs[0], FINISHED), 120,
                          "the first worker to start a chunk")
        survivor = _worker(logs[1], amqp, topo)
        killed = wait_for(lambda: in_flight(logs[0], FINISHED), 120, "a chunk in flight")
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        chunk = int(killed.split("/")[1])
        wait_for(lambda: not job.pending(job_dir), 180, "every chunk to be done")
        survivor_log = logs[1].read_text()
        # Redelivered to the survivor (or, killed between its write and its ack, skipped).
        assert f"done {killed}" in survivor_log or f"skipped {killed}" in survivor_log \
            or f"done {killed}" in logs[0].read_text()
        assert "dead " not in survivor_log and "retry " not in survivor_log, survivor_log
        assert job.chunk_path(job_dir, chunk).is_file()
    finally:
        for p in (victim, survivor):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
    merged = jobs.merge(job, job_dir)
    assert_same_gallery(merged, single_process(gallery_dir, threshold))
    _every_row_once(merged, gallery_dir)


@pytest.mark.slow
def test_sigkill_of_the_waiting_publisher_then_a_rerun_finishes_the_job(
        amqp, topo, tmp_path, publicdomain, astronaut, threshold):
    gallery_dir = make_gallery(tmp_path, publicdomain, astronaut, rows=8)
    job_dir = tmp_path / "job"
    cmd = [sys.executable, "-m", "bordermatch", "batch", "enrol", str(gallery_dir), "--job",
           str(job_dir), "--chunk", "1", "--broker", amqp, "--queue", topo.queue]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    publisher = subprocess.Popen([*cmd, "--wait", "--out", str(tmp_path / "never")], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (job_dir / "queued.json").is_file(), 120, "the chunks to be queued")
    finally:
        publisher.send_signal(signal.SIGKILL)
        publisher.wait(10)
    assert tasks.queue_depth(amqp, topo)["ready"] == 4
    again = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert '"created":false' in again.stdout and '"queued":0' in again.stdout
    assert run(amqp, topo, max_tasks=4) == 4
    job = jobs.load_job(job_dir)
    assert isinstance(job, jobs.EnrolJob) and not job.pending(job_dir)
    merged = jobs.merge(job, job_dir)
    assert_same_gallery(merged, single_process(gallery_dir, threshold))
    _every_row_once(merged, gallery_dir)
