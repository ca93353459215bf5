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


def _fit(path: Path) -> dict:
    point = json.loads(path.read_text())
    return {k: v for k, v in point.items() if k != "provenance"}  # names its source


def test_batch_lane_scores_fit_as_lane_calibrate_and_evaluate(lane: Path, queue, tmp_path):
    """Observing across workers (`batch lane-run --scores`) gives the thresholds and the 1:1
    table that observing in one process gives, to the last digit."""
    g, ev = str(lane / "g.npz"), str(lane / "events")
    # Two travellers are no cohort for S-norm: raw 1:1 scores, as lane calibrate asks.
    norm = ["--document-norm", "none"]
    rates = ["--target-fpir", "1", "--review-fpir", "1", "--document-fmr", "1"]
    single = runner.invoke(app, ["lane", "calibrate", "--gallery", g, "--events", ev, *rates,
                                 *norm, "--out", str(tmp_path / "one.json"),
                                 "--document-out", str(tmp_path / "one-doc.json")])
    assert single.exit_code == 0, single.output
    _scores_job(lane, queue, tmp_path / "job", tmp_path / "s.npz", *norm)
    fitted = runner.invoke(app, ["lane", "calibrate", "--scores", str(tmp_path / "s.npz"),
                                 *rates, "--out", str(tmp_path / "two.json"),
                                 "--document-out", str(tmp_path / "two-doc.json")])
    assert fitted.exit_code == 0, fitted.output
    assert _fit(tmp_path / "two.json") == _fit(tmp_path / "one.json")
    assert _fit(tmp_path / "two-doc.json") == _fit(tmp_path / "one-doc.json")
    assert json.loads((tmp_path / "two.fusion.json").read_text()) == \
        json.loads((tmp_path / "one.fusion.json").read_text())
    # The 1:1 table of lane evaluate, from the scores instead of a second observation.
    results = tmp_path / "r.jsonl"
    assert runner.invoke(app, ["lane", "run", "--gallery", g, "--events", ev, *norm,
                               "--out", str(results)]).exit_code == 0
    tables = []
    for source in (["--gallery", g, *norm], ["--scores", str(tmp_path / "s.npz")]):
        res = runner.invoke(app, ["lane", "evaluate", "--events", ev, "--results",
                                  str(results), *source])
        assert res.exit_code == 0, res.output
        tables.append(json.loads(res.stdout)["verification_1to1"])
    assert tables[0] == tables[1] and tables[0]["overall"]["n"] > 0
    # One way or the other, not both; a file that is not a scores file is refused.
    both = runner.invoke(app, ["lane", "calibrate", "--scores", str(tmp_path / "s.npz"),
                               "--gallery", g, "--events", ev, "--out", str(tmp_path / "x")])
    assert both.exit_code == 2 and "--scores replaces --gallery" in both.output
    wrong = runner.invoke(app, ["lane", "calibrate", "--scores", g, *rates,
                                "--out", str(tmp_path / "x.json")])
    assert wrong.exit_code == 2 and "not a lane scores file" in wrong.output
    snorm = runner.invoke(app, ["lane", "calibrate", "--scores", str(tmp_path / "s.npz"),
                                *rates, "--document-norm", "snorm", "--out",
                                str(tmp_path / "x.json"), "--document-out",
                                str(tmp_path / "x-doc.json")])
    assert snorm.exit_code == 2 and "on raw scores, not snorm" in snorm.output
    # Options that change what is observed belong to the batch job, not the fit.
    shots = runner.invoke(app, ["lane", "calibrate", "--scores", str(tmp_path / "s.npz"),
                                *rates, "--shots", "1", "--out", str(tmp_path / "x.json")])
    assert shots.exit_code == 2 and "--scores replaces --shots" in shots.output
    fmr = runner.invoke(app, ["lane", "evaluate", "--events", ev, "--results", str(results),
                              "--scores", str(tmp_path / "s.npz"), "--document-fmr", "0.5"])
    assert fmr.exit_code == 2 and "replaces --document-fmr" in fmr.output
    assert not (tmp_path / "x.json").exists()


def test_batch_lane_scores_on_a_gallery_too_small_for_s_norm(lane: Path, queue, tmp_path):
    """The default S-norm needs 200 travellers: the job keeps the searches, which fit
    as in one process, and says there are no 1:1 scores when a document point is asked."""
    g, ev = str(lane / "g.npz"), str(lane / "events")
    rates = ["--target-fpir", "1", "--review-fpir", "1"]
    assert runner.invoke(app, ["lane", "calibrate", "--gallery", g, "--events", ev, *rates,
                               "--out", str(tmp_path / "one.json")]).exit_code == 0
    _scores_job(lane, queue, tmp_path / "job", tmp_path / "s.npz")
    fitted = runner.invoke(app, ["lane", "calibrate", "--scores", str(tmp_path / "s.npz"),
                                 *rates, "--out", str(tmp_path / "two.json")])
    assert fitted.exit_code == 0, fitted.output
    assert _fit(tmp_path / "two.json") == _fit(tmp_path / "one.json")
    doc = runner.invoke(app, ["lane", "calibrate", "--scores", str(tmp_path / "s.npz"),
                              *rates, "--out", str(tmp_path / "x.json"), "--document-out",
                              str(tmp_path / "x-doc.json"), "--document-fmr", "1"])
    assert doc.exit_code == 2 and "no 1:1 comparisons were kept" in doc.output


def _scores_job(lane: Path, queue, job: Path, out: Path, *options: str) -> None:
    """``batch lane-run --scores --wait`` with one worker (in a thread) on the scratch queue."""
    url, name = queue
    stop = threading.Event()
    worker = threading.Thread(target=run, args=(url, tasks.topology(name)),
                              kwargs={"stop": stop})
    worker.start()
    try:
        done = runner.invoke(app, ["batch", "lane-run", "--scores", "--gallery",
                                   str(lane / "g.npz"), "--events", str(lane / "events"),
                                   "--job", str(job), "--chunk", "2", *options, "--wait",
                                   "--out", str(out), "--broker", url, "--queue", name])
    finally:
        stop.set()
        worker.join(60)
    assert done.exit_code == 0, done.output
    assert "7 events ->" in done.output
