"""``lane run`` across processes: ``bordermatch batch lane-run`` with 1 and 2 workers beside
single-process ``lane run`` on the same events, in the same run.

The input is a ``lane simulate`` output (RUN/gallery, RUN/events); the gallery is enrolled
once with ``gallery build``. Each mode is the wall time of the command a user runs, model
loading included. Every batch results file must have ``lane run``'s lines (but for the
measured ``latency_ms`` and ``timings_ms``), or the script fails.

With ``--scores`` the same for calibration: ``lane calibrate --gallery --events`` (with
``--document-out``) against ``batch lane-run --scores`` and then ``lane calibrate
--scores`` (timed together); every batch fit (open-set point, fusion comparison, document
point) must equal the one-process fit but for its provenance, or the script fails.

    python benchmarks/batch_lane.py --run RUN [--chunk 5] [--workers 1,2] [--scores]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from batch_enrol import batch_run, bench_env, bordermatch, report

MEASURED = ("latency_ms", "timings_ms")


def lines(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in MEASURED}
            for line in path.read_text().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a lane simulate output folder")
    ap.add_argument("--chunk", type=int, default=5, help="events per task")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--scores", action="store_true", help="time calibration instead")
    ap.add_argument("--target-fpir", default="1e-2", help="with --scores")
    args = ap.parse_args()

    env = bench_env()
    events = args.run / "events"
    n = sum(1 for p in events.iterdir() if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="bm-batch-lane-") as tmp:
        work = Path(tmp)
        bordermatch("gallery", "build", str(args.run / "gallery"), "--out", str(work / "g"),
                    "-q", env=env)
        load0 = os.getloadavg()
        common = ["--gallery", str(work / "g.npz"), "--events", str(events)]
        workers = [int(x) for x in args.workers.split(",")]
        rows, checked = (calibration if args.scores else lane_runs)(args, work, common,
                                                                    workers, env)
        load1 = os.getloadavg()
    report(rows, f"{n} events", "events", (load0[0], load1[0]), checked, ".2f")


def lane_runs(args: argparse.Namespace, work: Path, common: list[str], workers: list[int],
              env: dict) -> tuple[list[tuple[str, float]], str]:
    rows = [("lane run (1 process, reference)",
             bordermatch("lane", "run", *common, "--out", str(work / "single.jsonl"), "-q",
                         env=env))]
    reference = lines(work / "single.jsonl")
    for w in workers:
        out = work / f"batch-{w}.jsonl"
        wall = batch_run(["lane-run", *common, "--job", str(work / f"job-{w}"), "--chunk",
                          str(args.chunk), "--out", str(out)], w, env)
        if lines(out) != reference:
            raise SystemExit(f"batch lane-run with {w} workers differs from lane run")
        rows.append((f"batch lane-run, {w} worker(s), chunks of {args.chunk} events", wall))
    return rows, "every batch file has lane run's lines"


def fitted(out: Path) -> list[dict]:
    """The open-set point, the fusion comparison and the document point, less provenance."""
    parts = [json.loads(p.read_text()) for p in
             (out, out.with_suffix(".fusion.json"), out.with_name(f"{out.stem}-doc.json"))]
    return [{k: v for k, v in d.items() if k != "provenance"} for d in parts]


def calibration(args: argparse.Namespace, work: Path, common: list[str], workers: list[int],
                env: dict) -> tuple[list[tuple[str, float]], str]:
    import time

    rates = ["--target-fpir", args.target_fpir, "--review-fpir", "5e-2"]

    def calibrate(name: str, *source: str) -> float:
        return bordermatch("lane", "calibrate", *source, *rates, "--out",
                           str(work / f"{name}.json"), "--document-out",
                           str(work / f"{name}-doc.json"), "-q", env=env)

    rows = [("lane calibrate (1 process, reference)", calibrate("single", *common))]
    reference = fitted(work / "single.json")
    for w in workers:
        scores = work / f"scores-{w}.npz"
        t0 = time.perf_counter()
        batch_run(["lane-run", "--scores", *common, "--job", str(work / f"job-{w}"),
                   "--chunk", str(args.chunk), "--out", str(scores)], w, env)
        calibrate(f"batch-{w}", "--scores", str(scores))
        if fitted(work / f"batch-{w}.json") != reference:
            raise SystemExit(f"calibration on {w} workers' scores differs")
        rows.append((f"batch lane-run --scores, {w} worker(s), chunks of {args.chunk} "
                     "events, then lane calibrate --scores", time.perf_counter() - t0))
    return rows, "every batch fit equals the one-process fit"


if __name__ == "__main__":
    main()
