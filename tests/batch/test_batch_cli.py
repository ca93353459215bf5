"""``bordermatch batch``: the commands a user runs, against a real RabbitMQ (skipped without
one); the file ``batch enrol --wait`` writes is the one ``gallery build`` writes."""

from __future__ import annotations

import json
import threading

import pytest
from tests.api.ingest_helpers import scratch_queue
from tests.batch.batch_helpers import make_gallery
from typer.testing import CliRunner

from bordermatch.batch import tasks
from bordermatch.batch.worker import run
from bordermatch.cli import app

runner = CliRunner()


@pytest.fixture
def queue():
    yield from scratch_queue("bm-batch-cli")


def test_enrol_wait_writes_the_gallery_build_file(queue, tmp_path, publicdomain, astronaut):
    url, name = queue
    gallery = make_gallery(tmp_path, publicdomain, astronaut, rows=9)
    job = tmp_path / "job"
    opts = ["--broker", url, "--queue", name]
    merged = runner.invoke(app, ["batch", "merge", str(job), "--out", str(tmp_path / "x")])
    assert merged.exit_code == 2 and "no batch job there" in merged.output
    planned = runner.invoke(app, ["batch", "enrol", str(gallery), "--job", str(job),
                                  "--chunk", "2", "--json", *opts])
    assert planned.exit_code == 0, planned.output
    summary = json.loads(planned.stdout)
    assert (summary["chunks"], summary["queued"], summary["created"]) == (3, 3, True)
    early = runner.invoke(app, ["batch", "merge", str(job), "--out", str(tmp_path / "x")])
    assert early.exit_code == 2 and "3 of 3 chunks not done" in early.output
    status = runner.invoke(app, ["batch", "status", str(job), "--json", *opts])
    assert json.loads(status.stdout) | {"job_id": ""} == {
        "job_id": "", "kind": "enrol", "chunks": 3, "chunks_done": 0, "travellers": 5, "rows": 9,
        "complete": False, "queue": name, "ready": 3, "dead": 0, "consumers": 0}

    stop = threading.Event()

    def late_worker() -> None:
        if not stop.wait(6.0):  # long enough for --wait to see that no worker consumes
            run(url, tasks.topology(name), stop=stop)

    worker = threading.Thread(target=late_worker)
    worker.start()
    try:  # resumed with --wait: nothing new to queue; waits for the worker, then merges
        done = runner.invoke(app, ["batch", "enrol", str(gallery), "--job", str(job),
                                   "--chunk", "2", "--wait", "--out", str(tmp_path / "batch"),
                                   *opts])
    finally:
        stop.set()
        worker.join(30)
    assert done.exit_code == 0, done.output
    assert "enrolled 8 photos of 5 travellers from 9 rows" in done.output
    assert f"waiting: no worker consumes queue {name}" in done.output
    built = runner.invoke(app, ["gallery", "build", str(gallery), "--out",
                                str(tmp_path / "single")])
    assert built.exit_code == 0, built.output
    assert (tmp_path / "batch.npz").read_bytes() == (tmp_path / "single.npz").read_bytes()
    assert json.loads((tmp_path / "batch.json").read_text()) == \
        json.loads((tmp_path / "single.json").read_text())
    again = runner.invoke(app, ["batch", "enrol", str(gallery), "--job", str(job),
                                "--chunk", "3", *opts])
    assert again.exit_code == 2 and "other chunk_travellers" in again.output


def test_watch_stops_on_a_dead_lettered_chunk(queue, tmp_path, publicdomain, astronaut):
    url, name = queue
    gallery = make_gallery(tmp_path, publicdomain, astronaut, rows=4)
    job = tmp_path / "job"
    opts = ["--broker", url, "--queue", name]
    planned = runner.invoke(app, ["batch", "enrol", str(gallery), "--job", str(job),
                                  "--chunk", "1", *opts])
    assert planned.exit_code == 0, planned.output
    original = (gallery / "manifest.csv").read_bytes()
    with open(gallery / "manifest.csv", "a") as fh:  # edited after planning: no retry helps
        fh.write("T999,A,B,P,D9999,USA,true,obama.jpg\n")
    assert run(url, tasks.topology(name), max_tasks=2) == 2
    watched = runner.invoke(app, ["batch", "status", str(job), "--watch", *opts])
    assert watched.exit_code == 2
    assert "were dead-lettered" in watched.output and f"--queue {name}" in watched.output
    status = runner.invoke(app, ["batch", "status", str(job), "--json", *opts])
    assert json.loads(status.stdout)["dead"] == 2
    # The cause fixed, a plain resume queues nothing (both chunks were queued); --requeue does.
    (gallery / "manifest.csv").write_bytes(original)
    resumed = runner.invoke(app, ["batch", "enrol", str(gallery), "--job", str(job),
                                  "--chunk", "1", "--json", *opts])
    assert resumed.exit_code == 0 and json.loads(resumed.stdout)["queued"] == 0, resumed.output
    requeued = runner.invoke(app, ["batch", "enrol", str(gallery), "--job", str(job),
                                   "--chunk", "1", "--requeue", "--json", *opts])
    assert json.loads(requeued.stdout)["queued"] == 2
    assert run(url, tasks.topology(name), max_tasks=2) == 2
    merged = runner.invoke(app, ["batch", "merge", str(job), "--out", str(tmp_path / "g")])
    assert merged.exit_code == 0 and "enrolled 3 photos of 2 travellers from 4 rows" in \
        merged.output, merged.output
