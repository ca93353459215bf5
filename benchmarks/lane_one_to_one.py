"""1:1 steps for degraded lane captures: FNMR at FMR 1e-3 of each variant on the same tracks.

Usage:

    python benchmarks/lane_one_to_one.py RUN [RUN ...] [--limit N] [--dlib]

Each RUN is a ``lane simulate`` output with its gallery enrolled as ``RUN/g.npz``
(``gallery build RUN/gallery --out RUN/g.npz``). Every event is observed once by the lane's
own pipeline (detection, tracking, the shots it embeds); then each variant re-embeds the
same shots of every captured track (the best 16 by quality, as the document stage fuses
them) and scores them against every traveller's references. A variant changes one thing:

* how the shot becomes a chip: the lane's bilinear alignment (``baseline``), bicubic or
  Lanczos warps, a 2x supersampled warp, an unsharp mask, non-local-means denoising;
* photometry on both sides or the probe only: greyscale, grey-world white balance, CLAHE
  on luminance (the references re-embedded from the gallery photos under the same rule);
* flip augmentation (probe and reference), the pixel mean of each tracklet's chips
  (multi-frame fusion into one chip) added to or replacing the shots;
* how shots are fused (``max``, ``top2`` = the document stage's ``top2_mean``, ``top3``,
  ``mean``), and T-normalisation of each track's scores by its own gallery distribution,
  Z-normalisation of each traveller's by their scores against the other travellers'
  reference photos, and S-normalisation (the mean of the two: the lane's default);
* with ``--dlib``, dlib's ResNet alone and fused with SFace (slow: ~0.1 s per chip).

The threshold of each variant is fitted on its own non-mated comparisons (every track
against every traveller not in its vehicle) at FMR 1e-3, so variants compare at an equal
FMR; the mated score of an enrolled occupant is the best of the vehicle's tracks for their
traveller (``lane/verification.py``). Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from _timing import machine_line
from bordermatch.embed.align import ARCFACE_112, similarity_transform
from bordermatch.errors import BordermatchError
from bordermatch.gallery.enrol import portrait_detector
from bordermatch.gallery.manifest import read_manifest
from bordermatch.io.images import load_image
from bordermatch.lane.events import event_folders, read_truth
from bordermatch.lane.runner import build_pipeline, load_event

SHOTS = 16


def warp(img, lm, flag=cv2.INTER_LINEAR, scale=1):
    m = similarity_transform(lm, ARCFACE_112 * scale)
    return cv2.warpAffine(img, m, (112 * scale, 112 * scale), flags=flag, borderValue=0)


def grey(c):
    g = cv2.cvtColor(c, cv2.COLOR_RGB2GRAY)
    return np.repeat(g[:, :, None], 3, 2)


def grey_world(c):
    f = c.astype(np.float32)
    m = f.reshape(-1, 3).mean(0)
    return np.clip(f * (m.mean() / np.maximum(m, 1)), 0, 255).astype(np.uint8)


def clahe(c):
    lab = cv2.cvtColor(c, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = cv2.createCLAHE(2.0, (4, 4)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def unsharp(c):
    return cv2.addWeighted(c, 1.6, cv2.GaussianBlur(c, (0, 0), 1.0), -0.6, 0)


def same(c):
    return c


CHIPS: dict[str, Callable] = {
    "baseline": lambda i, lm: warp(i, lm),
    "bicubic warp": lambda i, lm: warp(i, lm, cv2.INTER_CUBIC),
    "lanczos warp": lambda i, lm: warp(i, lm, cv2.INTER_LANCZOS4),
    "2x supersampled warp": lambda i, lm: cv2.resize(warp(i, lm, cv2.INTER_CUBIC, 2),
                                                     (112, 112), interpolation=cv2.INTER_AREA),
    "unsharp mask": lambda i, lm: unsharp(warp(i, lm)),
    "nl-means denoise": lambda i, lm: cv2.fastNlMeansDenoisingColored(warp(i, lm), None,
                                                                      4, 4, 5, 11),
}
# name -> (probe transform, reference transform or None for the stored references)
PHOTOMETRY = {
    "greyscale both": (grey, grey), "greyscale probe, colour reference": (grey, None),
    "grey-world probe": (grey_world, None), "grey-world both": (grey_world, grey_world),
    "CLAHE both": (clahe, clahe), "flip augmentation both": ("flip", "flip"),
}


def embed(embedder, chips, flip=False):
    out = embedder.embed_chips(chips)
    if flip:
        out = out + embedder.embed_chips([c[:, ::-1] for c in chips])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def per_traveller(cos, owner, n):
    """(shots, references) cosines -> (shots, travellers): the best reference of each."""
    out = np.full((len(cos), n), -1.0, np.float32)
    np.maximum.at(out.T, owner, cos.T)
    return out


def fuse(p, how):
    k = {"top2": 2, "top3": 3}.get(how)
    if how == "max" or len(p) == 1:
        return p.max(0)
    if how == "mean":
        return p.mean(0)
    return np.sort(p, 0)[-min(k or 2, len(p)):].mean(0)


class Tally:
    def __init__(self):
        self.mated, self.nonmated, self.rows = defaultdict(list), defaultdict(list), []
        self.uncaptured: list[int] = []  # rows of enrolled occupants with no captured track

    def add(self, name, scores, truth_cols, rows_mask):
        self.nonmated[name].append(scores[:, rows_mask].ravel())
        self.mated[name].extend(scores[:, c].max() for c in truth_cols)

    def report(self):
        rows = np.asarray(self.rows + self.uncaptured)
        missing = np.full(len(self.uncaptured), -np.inf)
        print("| variant | FNMR at FMR 1e-3 | row 1 / 2 / 3 | FNMR at FMR 1e-4 |")
        print("|---|---|---|---|")
        for name in self.mated:
            n = np.concatenate(self.nonmated[name])
            m = np.concatenate([np.asarray(self.mated[name]), missing])
            fn = {f: m < np.quantile(n, 1 - f) for f in (1e-3, 1e-4)}
            by_row = " / ".join(f"{fn[1e-3][rows == r].mean() * 100:.1f}" for r in (1, 2, 3))
            print(f"| {name} | {fn[1e-3].mean() * 100:.2f} % ({fn[1e-3].sum()}/{len(m)}) | "
                  f"{by_row} % | {fn[1e-4].mean() * 100:.2f} % |")


def reference_chips(run: Path, embedder):
    det = portrait_detector("yunet")
    out = []
    for tid, rows in read_manifest(run / "gallery").travellers().items():
        for r in rows:
            if r.opt_out or not r.photo:
                continue
            try:
                img = load_image(run / "gallery" / r.photo)
                choice = det.subject(img)
            except BordermatchError:
                continue
            if not choice.ambiguous:
                out.append((tid, img, choice.face))
    return out


def one_run(run: Path, limit: int | None, use_dlib: bool, tally: Tally) -> None:
    pipe = build_pipeline(run / "g.npz")
    emb = pipe.embedder
    ids = pipe.search.ids
    col = {t: i for i, t in enumerate(ids)}
    refs = reference_chips(run, emb)
    owner = np.asarray([col[t] for t, _, _ in refs])
    ref_chip = [emb.chips(img, [f])[0] for _, img, f in refs]
    ref_vectors = {name: (None if rt is None else embed(emb, ref_chip, flip=True) if rt == "flip"
                          else embed(emb, [rt(c) for c in ref_chip]))
                   for name, (_, rt) in PHOTOMETRY.items()}
    base_refs = embed(emb, ref_chip)
    cohort = per_traveller(base_refs @ base_refs.T, owner, len(ids)).astype(np.float64)
    cohort[np.arange(len(owner)), owner] = np.nan  # a photo is no cohort for its owner
    z_mean, z_spread = np.nanmean(cohort, 0), np.maximum(np.nanstd(cohort, 0), 1e-6)
    dlib = dlib_refs = None
    if use_dlib:
        from bordermatch.embed.dlib_resnet import DlibResNetEmbedder
        dlib = DlibResNetEmbedder()
        dlib_refs = np.concatenate([dlib.embed(img, [f]) for _, img, f in refs])
    for folder in event_folders(run / "events")[:limit]:
        event, frames = load_event(folder, pipe)
        obs = pipe.observe(event, frames)
        truth = read_truth(folder)
        cols = [col[o.traveler_id] for o in truth if o.traveler_id in col]
        seats = [int(o.seat[1]) for o in truth if o.traveler_id in col]
        cap = [t for t in obs.tracks if t.best_quality >= pipe.config.min_capture_quality]
        if not cap:  # a verification that cannot happen fails
            tally.uncaptured += seats
            continue
        tally.rows += seats
        mask = np.ones(len(ids), bool)
        mask[cols] = False
        rows: dict[str, list] = defaultdict(list)
        for tr in cap:
            shots = sorted((s for s in tr.shots if s.vector is not None),
                           key=lambda s: -s.quality)[:SHOTS]
            views = []
            for s in shots:
                fr = pipe.frame_ref(event, s.camera, s.frame)
                views.append((frames.images[(fr.camera, fr.seq)], s.face, s.camera))
            chips = {n: [f(img, face.landmarks) for img, face, _ in views]
                     for n, f in CHIPS.items()}
            score = {n: per_traveller(embed(emb, c) @ base_refs.T, owner, len(ids))
                     for n, c in chips.items()}
            for n, p in score.items():
                rows[n].append(fuse(p, "top2"))
            base = score["baseline"]
            for how in ("max", "top3", "mean"):
                rows[f"fusion: {how}"].append(fuse(base, how))
            for n, (pt, _) in PHOTOMETRY.items():
                probe = (embed(emb, chips["baseline"], flip=True) if pt == "flip"
                         else embed(emb, [pt(c) for c in chips["baseline"]]))
                refv = ref_vectors[n] if ref_vectors[n] is not None else base_refs
                rows[n].append(fuse(per_traveller(probe @ refv.T, owner, len(ids)), "top2"))
            by_cam = defaultdict(list)
            for c, (_, _, cam) in zip(chips["baseline"], views, strict=True):
                by_cam[cam].append(c)
            means = [np.mean(np.stack(v).astype(np.float32), 0).round().astype(np.uint8)
                     for v in by_cam.values() if len(v) >= 2]
            if means:
                avg = per_traveller(embed(emb, means) @ base_refs.T, owner, len(ids))
                rows["tracklet mean chip added"].append(fuse(np.vstack([base, avg]), "top2"))
                rows["tracklet mean chip only"].append(fuse(avg, "top2"))
            else:
                rows["tracklet mean chip added"].append(fuse(base, "top2"))
                rows["tracklet mean chip only"].append(fuse(base, "top2"))
            if dlib is not None:
                d = np.concatenate([dlib.embed(img, [face]) for img, face, _ in views])
                pd = per_traveller(d @ dlib_refs.T, owner, len(ids))
                rows["dlib alone"].append(fuse(pd, "top2"))
                # The LFW-fitted weights of data/calibration.json put dlib at 64 against
                # SFace's 28 on stills; lane chips are far harder for dlib.
                for w in (20.0, 64.3):
                    rows[f"SFace x28 + dlib x{w:g}"].append(fuse(28 * base + w * pd, "top2"))
        for n, r in rows.items():
            tally.add(n, np.stack(r), cols, mask)
        s = np.stack(rows["baseline"])
        mu, sd = s.mean(1, keepdims=True), s.std(1, keepdims=True)
        tally.add("T-norm (gallery as cohort)", (s - mu) / sd, cols, mask)
        z = (s - z_mean) / z_spread
        tally.add("Z-norm (other travellers' photos as cohort)", z, cols, mask)
        tally.add("S-norm (mean of T- and Z-norm)", 0.5 * ((s - mu) / sd + z), cols, mask)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="events per run")
    ap.add_argument("--dlib", action="store_true", help="add dlib ResNet variants (slow)")
    a = ap.parse_args()
    print(machine_line())
    tally = Tally()
    for run in a.runs:
        one_run(run, a.limit, a.dlib, tally)
    tally.report()


if __name__ == "__main__":
    main()
