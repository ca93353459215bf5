"""``lane run`` across processes (``bordermatch batch lane-run``) on a real RabbitMQ (skipped
without one): chunks of events merged in event order are the lines ``lane run`` writes,
broken events included, but for each line's measured latency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from tests.api.ingest_helpers import scratch_queue
from typer.testing import CliRunner

from bordermatch.batch import tasks
from bordermatch.batch.worker import run
from bordermatch.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()
MEASURED = ("latency_ms", "timings_ms")  # wall times: they differ between any two runs


@pytest.fixture
def queue():
    yield from scratch_queue("bm-batch-lane")


def _lines(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in MEASURED} for r in rows]


def test_batch_lane_run_writes_the_lane_run_lines(lane: Path, queue, tmp_path):
    url, name = queue
    opts = ["--broker", url, "--queue", name]
    single = runner.invoke(app, ["lane", "run", "--gallery", str(lane / "g.npz"), "--events",
                                 str(lane / "events"), "--out", str(tmp_path / "single.jsonl")])
    assert single.exit_code == 0, single.output
    job = tmp_path / "job"
    planned = runner.invoke(app, ["batch", "lane-run", "--gallery", str(lane / "g.npz"),
                                  "--events", str(lane / "events"), "--job", str(job),
                                  "--chunk", "3", "--json", *opts])
    assert planned.exit_code == 0, planned.output
    summary = json.loads(planned.stdout)
    assert (summary["kind"], summary["events"], summary["chunks"], summary["queued"]) == \
        ("lane", 7, 3, 3)
    stop = threading.Event()
    worker = threading.Thread(target=run, args=(url, tasks.topology(name)),
                              kwargs={"stop": stop})
    worker.start()
    try:
        done = runner.invoke(app, ["batch", "lane-run", "--gallery", str(lane / "g.npz"),
                                   "--events", str(lane / "events"), "--job", str(job),
                                   "--chunk", "3", "--wait", "--out",
                                   str(tmp_path / "batch.jsonl"), *opts])
    finally:
        stop.set()
        worker.join(60)
    assert done.exit_code == 0, done.output
    assert "7 events ->" in done.output
    batch, reference = _lines(tmp_path / "batch.jsonl"), _lines(tmp_path / "single.jsonl")
    assert [r["event_id"] for r in batch] == [r["event_id"] for r in reference]
    assert batch == reference
    assert {r.get("error") for r in batch} >= {"bad_event_json", "empty_event"}
    # A job folder holds one kind of job; the enrolment's planner refuses a lane job.
    other = runner.invoke(app, ["batch", "enrol", str(lane / "gallery"), "--job", str(job),
                                *opts])
    assert other.exit_code == 2 and "a lane job is planned there" in other.output
