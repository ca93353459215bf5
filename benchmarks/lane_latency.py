"""Per-vehicle latency of the lane pipeline against a reference configuration, interleaved.

Usage (the events and gallery come from ``bordermatch lane simulate`` / ``gallery build``):

    python benchmarks/lane_latency.py --gallery G.npz --events EVENTS_DIR [--limit 40]
        [--alternatives] [--rounds 1]

The machine these runs share is loaded by other work, and its load changes within a run. So
every configuration processes each vehicle in turn, in a rotating order, before the next
vehicle: the configurations see the same load, and the per-vehicle ratio to the reference
means something even when absolute times do not (docs/benchmarks.md). Configurations:

* ``reference``: the lane as it was before coarse-to-fine detection and batched embedding
  (one full-resolution detector pass per frame and ROI, one recognizer call per frame, a
  detector session whose threads spin between parallel sections);
* ``default``: today's ``LaneConfig()``;
* with ``--alternatives``: three shots per tracklet, adaptive shots, one shot per tracklet.

Prints, per configuration, p50/p95/max latency, throughput, the mean time per stage, the
median and p95 of the per-vehicle ratio to the reference, and the number of vehicles whose
decisions differ from the reference's (all of them, and those naming a traveller: a track
split in two adds a ``no_match`` that names no one). Frames are read from disk each time, as
in a lane, after a warm-up event. Record results in docs/benchmarks.md with the machine, the
command, the date and the load average.
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

from bordermatch.detect.yunet import YuNetDetector
from bordermatch.lane.events import event_folders, read_event
from bordermatch.lane.pipeline import LaneConfig
from bordermatch.lane.runner import build_pipeline, load_event

REFERENCE = replace(LaneConfig(), coarse_scale=1.0, roi_coarse_scale=1.0,
                    batch_embedding=False)


def decisions(result) -> list[tuple[str, str]]:
    return sorted((o.traveler_id or "-", o.decision.value) for o in result.occupants)


def identities(decided: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The decisions that name a traveller (a split track's extra no_match names no one)."""
    return [d for d in decided if d[0] != "-"]


def configurations(alternatives: bool) -> dict[str, LaneConfig]:
    out = {"reference (full-resolution passes, one call per frame)": REFERENCE,
           "default": LaneConfig()}
    if alternatives:
        out["three shots per tracklet"] = replace(LaneConfig(), shots_per_tracklet=3)
        out["adaptive shots"] = replace(LaneConfig(), adaptive_shots=True)
        out["one shot per tracklet"] = replace(LaneConfig(), shots_per_tracklet=1, fuse_top_k=4)
    return out


def interleaved(pipeline, folders, configs: dict[str, LaneConfig], rounds: int,
                detectors: dict | None = None) -> dict:
    """Latency, stage times and decisions of every configuration on every vehicle
    (``detectors`` replaces the pipeline's detector for the configurations it names)."""
    names = list(configs)
    detectors = detectors or {}
    own = pipeline.detector
    res: dict[str, dict] = {n: {"lat": [], "stages": {}, "decided": []} for n in names}
    turn = 0
    for r in range(rounds):
        for f in folders:
            order = names[turn % len(names):] + names[:turn % len(names)]
            turn += 1
            for n in order:
                pipeline.config = configs[n]
                pipeline.detector = detectors.get(n, own)
                out = pipeline.process(*load_event(f, pipeline))  # decoding counts
                pipeline.detector = own
                if r == 0:
                    res[n]["decided"].append(decisions(out))
                res[n]["lat"].append(out.latency_ms)
                for k, v in out.timings_ms:
                    res[n]["stages"].setdefault(k, []).append(v)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gallery", type=Path, required=True)
    ap.add_argument("--events", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--min-occupants", type=int, default=1,
                    help="Only events with at least this many occupants in truth.json.")
    ap.add_argument("--rounds", type=int, default=1, help="Passes over the vehicles.")
    ap.add_argument("--alternatives", action="store_true",
                    help="Also time 3 shots per tracklet, adaptive shots, 1 shot per tracklet.")
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
          f"load average {os.getloadavg()[0]:.1f} at start, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"gallery {len(pipeline.search)} travellers; {len(folders)} vehicles, "
          f"{np.mean(frames):.1f} frames each (1280x720), {args.rounds} round(s), interleaved")
    configs = configurations(args.alternatives)
    ref_name = next(iter(configs))
    # The reference's detector session busy-waits between parallel sections, as before.
    detectors = {ref_name: YuNetDetector(spinning=True)}
    res = interleaved(pipeline, folders[:1], configs, 1, detectors)  # warm-up: every path
    res = interleaved(pipeline, folders, configs, args.rounds, detectors)
    ref = np.asarray(res[ref_name]["lat"])
    for name, r in res.items():
        a = np.asarray(r["lat"])
        ratio = a / ref
        pairs = list(zip(res[ref_name]["decided"], r["decided"], strict=True))
        differ = sum(x != y for x, y in pairs)
        named = sum(identities(x) != identities(y) for x, y in pairs)
        print(f"\n[{name}] p50 {np.percentile(a, 50):.0f} ms, p95 {np.percentile(a, 95):.0f} ms,"
              f" max {a.max():.0f} ms, {1000.0 / a.mean():.2f} vehicles/s")
        if name != ref_name:
            print(f"  per-vehicle ratio to the reference: median {np.median(ratio):.2f}, "
                  f"p95 {np.percentile(ratio, 95):.2f}; p95/p95 "
                  f"{np.percentile(a, 95) / np.percentile(ref, 95):.2f}")
            print(f"  decisions differ from the reference's in {differ} of {len(folders)} "
                  f"vehicles; decisions naming a traveller in {named}")
        for k, v in sorted(r["stages"].items()):
            print(f"  {k:10s} {np.mean(v):8.1f} ms/vehicle")
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
