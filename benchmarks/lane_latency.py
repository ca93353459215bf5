"""Per-vehicle latency of the lane pipeline, with the breakdown by stage.

Usage (the events and gallery come from ``bordermatch lane simulate`` / ``gallery build``):

    python benchmarks/lane_latency.py --gallery G.npz --events EVENTS_DIR [--limit 40]

Runs the default configuration (every frame embedded) and two alternatives, adaptive shots
and one shot per camera tracklet, over the same events in this process, after a warm-up
event, and prints p50/p95/max latency, throughput, the mean time per stage (detection,
quality, embedding, tracking, search, decode), and for each alternative the number of
vehicles whose decisions differ from the default's. Frames are read from disk each time,
as in a lane.
Record results in docs/benchmarks.md with the machine, the command and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bordermatch.lane.events import event_folders, read_event
from bordermatch.lane.pipeline import LaneConfig
from bordermatch.lane.runner import build_pipeline, load_event


def decisions(result) -> list[tuple[str, str]]:
    return sorted((o.traveler_id or "-", o.decision.value) for o in result.occupants)


def run(pipeline, folders) -> dict:
    lat, stages, decided = [], {}, []
    start = time.perf_counter()
    for f in folders:
        r = pipeline.process(*load_event(f, pipeline))  # decoding counts in the latency
        decided.append(decisions(r))
        lat.append(r.latency_ms)
        for k, v in r.timings_ms:
            stages.setdefault(k, []).append(v)
    wall = time.perf_counter() - start
    a = np.asarray(lat)
    return {"vehicles": len(a), "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)), "max_ms": float(a.max()),
            "vehicles_per_s": len(a) / wall, "decisions": decided,
            "stage_mean_ms": {k: float(np.mean(v)) for k, v in sorted(stages.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gallery", type=Path, required=True)
    ap.add_argument("--events", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--min-occupants", type=int, default=1,
                    help="Only events with at least this many occupants in truth.json.")
    args = ap.parse_args()
    folders = []
    for f in event_folders(args.events):
        truth = json.loads((f / "truth.json").read_text()) if (f / "truth.json").is_file() else {}
        if len(truth.get("occupants", [])) >= args.min_occupants:
            folders.append(f)
    folders = folders[: args.limit]
    frames = [len(read_event(f).frames) for f in folders]
    pipeline = build_pipeline(args.gallery)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"gallery {len(pipeline.search)} travellers; {len(folders)} vehicles, "
          f"{np.mean(frames):.1f} frames each (1280x720)")
    pipeline.process(*load_event(folders[0], pipeline))  # warm-up: sessions, scipy, allocator
    configs = {"default (every frame embedded)": pipeline.config,
               "adaptive shots": replace(pipeline.config, adaptive_shots=True),
               "one shot per tracklet":
                   replace(LaneConfig(), shots_per_tracklet=1, fuse_top_k=4)}
    baseline = None
    for name, cfg in configs.items():
        pipeline.config = cfg
        res = run(pipeline, folders)
        print(f"\n[{name}] p50 {res['p50_ms']:.0f} ms, p95 {res['p95_ms']:.0f} ms, "
              f"max {res['max_ms']:.0f} ms, {res['vehicles_per_s']:.2f} vehicles/s")
        if baseline is None:
            baseline = res["decisions"]
        else:
            differ = sum(a != b for a, b in zip(baseline, res["decisions"], strict=True))
            print(f"  decisions differ from the default's in {differ} of {len(folders)} vehicles")
        for k, v in res["stage_mean_ms"].items():
            print(f"  {k:10s} {v:8.1f} ms/vehicle")
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
