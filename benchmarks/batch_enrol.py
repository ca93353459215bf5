"""Batch enrolment throughput: ``bordermatch batch`` with 1 and 2 worker processes beside
single-process ``gallery build`` on the same photos, in the same run.

A gallery directory is made of the first ``--photos`` LFW photos (copied into a temporary
folder, never into the repository; a person with several photos is one traveller with
several rows). Each mode is the wall time of the command a user runs, model loading
included: ``gallery build``; and ``batch enrol --wait --out`` with N ``batch worker``
processes started just before it, on a fresh queue. Every batch gallery must be byte for
byte the ``gallery build`` file, or the script fails.

    python benchmarks/batch_enrol.py [--lfw ../shared/data/lfw/lfw-deepfunneled] \\
        [--photos 300] [--chunk 25] [--workers 1,2,2x1]
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AMQP_URL = os.environ.get("BORDERMATCH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
ROOT = Path(__file__).resolve().parents[1]


def make_gallery(lfw: Path, photos: int, into: Path) -> int:
    from bordermatch.gallery.manifest import COLUMNS

    files = sorted(lfw.glob("*/*.jpg"))[:photos]
    if not files:
        raise SystemExit(f"no LFW photos under {lfw}")
    into.mkdir(parents=True)
    with open(into / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for i, f in enumerate(files):
            shutil.copyfile(f, into / f.name)
            w.writerow({"traveler_id": f.parent.name, "given_names": "", "surname":
                        f.parent.name, "document_type": "P", "document_number": f"D{i:06d}",
                        "nationality": "USA", "citizen": "false", "photo": f.name})
    return len(files)


def bordermatch(*args: str, env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bordermatch", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def batch_run(command: list[str], workers: int, env: dict, threads: int = 0) -> float:
    """Wall time of ``bordermatch batch COMMAND --wait ...`` with ``workers`` workers started
    just before it on a fresh queue."""
    from bordermatch.ingest import broker

    queue = f"bm-batch-bench-{secrets.token_hex(3)}"
    opts = ["--broker", AMQP_URL, "--queue", queue]
    procs = [subprocess.Popen([sys.executable, "-m", "bordermatch", "batch", "worker", *opts,
                               "--threads", str(threads)], env=env, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        return bordermatch("batch", *command, "--wait", "-q", *opts, env=env)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        conn = broker.connect(AMQP_URL)
        ch = conn.channel()
        for q in (queue, f"{queue}.dead"):
            ch.queue_delete(q)
        conn.close()


def bench_env() -> dict:
    """The environment the timed commands run in: this checkout's sources first."""
    return os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}


def report(rows: list[tuple[str, float]], count: str, unit: str, load: tuple[float, float],
           checked: str, fmt: str = ".1f") -> None:
    """The table every batch runner prints: each mode's wall time and rate."""
    n = int(count.split()[0])
    print(f"{count}, {os.cpu_count()} cores, load average {load[0]:.2f} before, "
          f"{load[1]:.2f} after; {checked}")
    print(f"| mode | wall s | {unit}/s |\n|---|---|---|")
    for mode, wall in rows:
        print(f"| {mode} | {wall:.1f} | {n / wall:{fmt}} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lfw", type=Path, default=ROOT.parent / "shared" / "data" / "lfw"
                    / "lfw-deepfunneled")
    ap.add_argument("--photos", type=int, default=300)
    ap.add_argument("--chunk", type=int, default=25, help="travellers per task")
    ap.add_argument("--workers", default="1,2,2x1",
                    help="worker counts; NxT: N workers of T threads per model each")
    args = ap.parse_args()

    env = bench_env()
    with tempfile.TemporaryDirectory(prefix="bm-batch-bench-") as tmp:
        work = Path(tmp)
        n = make_gallery(args.lfw, args.photos, work / "gallery")
        load0 = os.getloadavg()
        rows = [("gallery build (1 process, reference)",
                 bordermatch("gallery", "build", str(work / "gallery"), "--out",
                             str(work / "single"), "-q", env=env))]
        reference = (work / "single.npz").read_bytes()
        for spec in args.workers.split(","):
            w, _, t = spec.partition("x")
            wall = batch_run(["enrol", str(work / "gallery"), "--job", str(work / f"job-{spec}"),
                              "--chunk", str(args.chunk), "--out", str(work / f"batch-{spec}")],
                             int(w), env, int(t or 0))
            if (work / f"batch-{spec}.npz").read_bytes() != reference:
                raise SystemExit(f"batch with {spec} workers differs from gallery build")
            threads = f", {t} thread(s) per model" if t else ""
            rows.append((f"batch, {w} worker(s){threads}, chunks of {args.chunk} travellers",
                         wall))
        load1 = os.getloadavg()
    report(rows, f"{n} LFW photos", "photos", (load0[0], load1[0]),
           "every batch file identical to gallery build's")


if __name__ == "__main__":
    main()
