"""The recognizers' open-set ceiling on *undegraded* photos: what a perfect lane could reach.

Usage:

    python benchmarks/lane_ceiling.py --lfw-dir ../shared/data/lfw/lfw-deepfunneled \
        [--people 800] [--distractors 1200] [--seed 1]

For ``--people`` LFW people with two or more photos, one photo is the "document" enrolled in
the gallery and another, never the same, is the "lane" probe, exactly as the simulator
picks them, but with no rendering at all: no glass, blur, noise, occlusion or small faces.
The gallery is padded with ``--distractors`` one-photo people, as in the lane acceptance
runs (about 2,000 travellers). Every probe is a mated search; the same probe searched
against the gallery without its mate is a non-mated search; as in ``lane calibrate``, it
also leaves out the gallery entries that ``gallery build`` would flag as the same face as
the mate (SFace, FMR 1e-5), since LFW files some people under two names. For each bundled
recognizer
(and the SFace+dlib fusion of ``data/calibration.json``) it prints rank-1, FNIR at the
thresholds that give FPIR 1e-3 (the lane's match threshold) and 1e-2 (review) on these
searches, and the vehicle validation rate those FNIRs would allow at the simulator's
default occupancy (every enrolled occupant must match) if capture and rendering cost
nothing. Record results in docs/benchmarks.md with the machine, the command and the date.
"""

from __future__ import annotations

import argparse
import random
from math import comb
from pathlib import Path

import numpy as np

from _timing import machine_line
from bordermatch import registry
from bordermatch.config import Settings
from bordermatch.errors import BordermatchError
from bordermatch.eval.metrics import fnir
from bordermatch.gallery.build import strict_cosine_threshold
from bordermatch.gallery.enrol import as_portrait
from bordermatch.io.images import load_image
from bordermatch.lane.scenario import params_for
from bordermatch.match.calibrate import threshold_for_rate
from bordermatch.match.fusion import load_matcher


def people_of(lfw: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(lfw.iterdir()) if d.is_dir()}


def embed_subject(path: Path, detector, embedders) -> list[np.ndarray] | None:
    """One template per recognizer of the photo's subject, as ``gallery build`` picks it."""
    try:
        img = load_image(path)
    except BordermatchError:
        return None
    try:
        choice = as_portrait(detector).subject(img)
    except BordermatchError:  # no face
        return None
    if choice.ambiguous:
        return None
    return [e.embed(img, [choice.face])[0] for e in embedders]


def validation_ceiling(miss: float) -> float:
    """P(every enrolled occupant matches) at the simulator's default occupancy."""
    p = params_for("default")
    q = 1.0 - p.not_in_gallery
    weights = np.asarray(p.occupant_weights) / np.sum(p.occupant_weights)
    total = 0.0
    for n, w in enumerate(weights, start=1):
        total += w * sum(comb(n, m) * q**m * (1 - q) ** (n - m) * (1 - miss) ** m
                         for m in range(n + 1))
    return total


def report(name: str, scores: np.ndarray, excluded: np.ndarray) -> None:
    """``excluded[i, j]``: gallery entry j is probe i's mate or flagged as the same face."""
    n = scores.shape[0]
    idx = np.arange(n)
    mated = scores[idx, idx]
    rank1 = scores.argmax(1) == idx
    nonmated = np.where(excluded, -np.inf, scores).max(1)
    parts = [f"{name:7s} rank-1 {rank1.mean():.3f}"]
    for target in (1e-3, 1e-2):
        th = threshold_for_rate(nonmated, target)
        miss = fnir(mated, np.where(rank1, 1, 2), th)
        parts.append(f"FPIR {target:g}: threshold {th:.3f}, FNIR {miss:.3f}, "
                     f"vehicle ceiling {validation_ceiling(miss):.3f}")
    print(" | ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw-dir", type=Path, required=True)
    ap.add_argument("--people", type=int, default=800)
    ap.add_argument("--distractors", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    people = people_of(args.lfw_dir)
    multi = [n for n, p in people.items() if len(p) >= 2]
    single = [n for n, p in people.items() if len(p) == 1]
    rng.shuffle(multi)
    rng.shuffle(single)
    cfg = Settings()
    detector = registry.create("detector", cfg.detector, **cfg.detector_options())
    names = ("sface", "dlib")
    embedders = [registry.create("embedder", m) for m in names]
    probes, mates = [], []
    for person in multi[: args.people]:
        photos = people[person][:]
        rng.shuffle(photos)
        found = [t for t in (embed_subject(p, detector, embedders) for p in photos[:3]) if t]
        if len(found) >= 2:
            probes.append(found[0])
            mates.append(found[1])
    padding = [t for t in (embed_subject(people[n][0], detector, embedders)
                           for n in single[: args.distractors]) if t]
    gallery = mates + padding
    print(machine_line())
    print(f"{len(probes)} mated probes (lane photo != gallery photo, no rendering), "
          f"gallery of {len(gallery)} (seed {args.seed})")
    mates_sface = np.stack([t[0] for t in mates])
    flagged = mates_sface @ np.stack([t[0] for t in gallery]).T >= strict_cosine_threshold(
        "sface", 1e-5)
    flagged[np.arange(len(mates)), np.arange(len(mates))] = True
    print(f"{int(flagged.sum()) - len(mates)} gallery entries flagged as a mate's face under "
          "another name, left out of those non-mated searches")
    raw = {}
    for k, m in enumerate(names):
        q = np.stack([p[k] for p in probes])
        g = np.stack([t[k] for t in gallery])
        raw[m] = q @ g.T
        report(m, raw[m], flagged)
    fused = load_matcher("fusion").primary
    report("fusion", fused.bias + sum(w * raw[m] for m, w in fused.weights), flagged)


if __name__ == "__main__":
    main()
