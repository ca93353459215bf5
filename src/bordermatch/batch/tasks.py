"""Batch tasks on a RabbitMQ work queue: one message per chunk of a job.

The queue is a quorum queue declared by ``ingest.broker.declare`` (its own name, default
``bordermatch.batch``, and dead-letter queue ``<queue>.dead``): durable, replicated, and it
dead-letters a chunk that kills every worker taking it (``x-delivery-limit``). A message
names the job folder and the chunk; the work itself is in the job's spec (``jobs.py``).

Publishing with confirms means a chunk the publisher returned from is queued. A publisher
that dies part way is resumed by running it again: it publishes the chunks past the last
mark it wrote (``JOB/queued.json``) that have no result yet, so a chunk is queued twice at
most for the few published since that mark. A chunk queued twice is enrolled once and
skipped the second time (or, taken by two workers at once, written twice with the same
content).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bordermatch.batch.jobs import Chunked, JobError
from bordermatch.ingest import broker

DEFAULT_QUEUE = "bordermatch.batch"
MAX_DELIVERIES = 5  # a chunk that fails five times is dead-lettered
MARK_EVERY = 100  # a publisher killed between marks queues at most this many twice


def topology(queue: str = DEFAULT_QUEUE) -> broker.Topology:
    return broker.Topology(queue, MAX_DELIVERIES)


@dataclass(frozen=True)
class ChunkTask:
    job_dir: str
    job_id: str
    chunk: int

    def encode(self) -> bytes:
        return json.dumps({"v": 1, "kind": "chunk", "job_dir": self.job_dir,
                           "job_id": self.job_id, "chunk": self.chunk}).encode()

    @property
    def message_id(self) -> str:
        return f"{self.job_id}/{self.chunk}"


def decode(body: bytes) -> ChunkTask:
    try:
        msg = json.loads(body)
        if not isinstance(msg, dict) or msg.get("v") != 1 or msg.get("kind") != "chunk":
            raise ValueError("not a version 1 chunk task")
        chunk = msg["chunk"]
        if not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 0:
            raise ValueError("chunk must be a non-negative integer")
        return ChunkTask(str(msg["job_dir"]), str(msg["job_id"]), chunk)
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise JobError(f"bad batch task: {exc}") from None


def publish_pending(url: str, topo: broker.Topology, job: Chunked, job_dir: Path,
                    requeue: bool = False) -> int:
    """Queue the chunks of ``job`` without a result that no earlier run of this has queued
    (``JOB/queued.json``, advanced every ``MARK_EVERY`` confirms); with ``requeue``, every
    chunk without a result (after the broker lost its queue, or a dead-lettered chunk's
    cause was fixed). Returns how many were queued."""
    job_dir = Path(job_dir).resolve()
    through = -1 if requeue else queued_through(job_dir)
    conn = broker.connect(url)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        broker.declare(ch, topo)
        sent = 0
        for chunk in job.pending(job_dir):
            if chunk <= through:
                continue
            task = ChunkTask(str(job_dir), job.job_id, chunk)
            broker.publish(ch, topo.queue, task.encode(), message_id=task.message_id)
            sent += 1
            if sent % MARK_EVERY == 0:
                _mark(job_dir, chunk)
        _mark(job_dir, job.chunks - 1)
        return sent
    finally:
        conn.close()


def queued_through(job_dir: Path) -> int:
    """The last chunk up to which every chunk was confirmed queued (-1: none)."""
    try:
        return int(json.loads((Path(job_dir) / "queued.json").read_text())["through"])
    except FileNotFoundError:
        return -1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobError(f"{job_dir}/queued.json: unreadable ({exc}); rerun with --requeue") \
            from None


def _mark(job_dir: Path, through: int) -> None:
    from bordermatch.batch.jobs import atomic_write

    atomic_write(Path(job_dir) / "queued.json", json.dumps({"through": through}).encode())


def queue_depth(url: str, topo: broker.Topology) -> dict[str, Any]:
    """Messages waiting (ready, not yet taken) in the work queue and its dead-letter queue,
    and how many workers consume the work queue."""
    conn = broker.connect(url)
    try:
        ch = conn.channel()
        broker.declare(ch, topo)
        work = ch.queue_declare(topo.queue, passive=True).method
        dead = ch.queue_declare(topo.dead, passive=True).method.message_count
        return {"queue": topo.queue, "ready": work.message_count, "dead": dead,
                "consumers": work.consumer_count}
    finally:
        conn.close()
