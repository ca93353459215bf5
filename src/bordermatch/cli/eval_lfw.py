"""``bordermatch eval lfw`` (View-2 protocol report) and ``bordermatch eval calibrate``."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from pathlib import Path

import typer

from bordermatch.cli._common import fail
from bordermatch.cli.progress import Quiet, bars_enabled, output

log = logging.getLogger(__name__)


def _embed(lfw_dir: Path, cache_dir: Path | None, workers: int, flip: bool,
           dlib_box: str, limit_pairs: int | None, detect_min_side: int, quiet: bool = False):
    from bordermatch.eval.lfw import image_root, read_pairs
    from bordermatch.eval.lfw import limit_pairs as limit
    from bordermatch.eval.lfw_embed import EmbedConfig, default_cache_dir, embed_images

    pairs = read_pairs(lfw_dir / "pairs.txt")
    if limit_pairs:
        pairs = limit(pairs, limit_pairs)
    names = sorted({n for p in pairs for n in (p.a, p.b)})
    config = EmbedConfig(dlib_box=dlib_box, detect_min_side=detect_min_side)
    emb = embed_images(image_root(lfw_dir), names, config, cache_dir or default_cache_dir(),
                       workers=workers, flip=flip,
                       progress=bars_enabled(output(quiet=quiet)))  # its own tqdm bar
    return pairs, emb, config


def lfw(
    lfw_dir: Path = typer.Option(..., "--lfw-dir", help="Folder with pairs.txt and the images."),
    out: Path = typer.Option(Path("lfw-report"), "--out", help="Report folder (Markdown, PNG)."),
    folds: int = typer.Option(10, "--folds", help="Folds to evaluate (View 2 has 10)."),
    limit_pairs: int | None = typer.Option(None, "--limit-pairs",
                                           help="Evaluate a balanced subset of N pairs."),
    workers: int = typer.Option(2, "--workers", help="Embedding worker processes."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir",
                                          help="Embedding cache (default ~/.cache/bordermatch)."),
    flip: bool = typer.Option(False, "--flip/--no-flip", help="SFace flip augmentation."),
    dlib_box: str = typer.Option("landmarks", help="landmarks | yunet | square"),
    detect_min_side: int = typer.Option(500, help="Enlarge smaller images for detection."),
    margin: float = typer.Option(0.25, help="Cascade band margin (calibrated log-odds)."),
    large: bool = typer.Option(True, "--large/--no-large",
                               help="Also calibrate on all cross-identity impostor pairs."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    quiet: bool = Quiet,
) -> None:
    """LFW View-2 10-fold verification: SFace, dlib, fusion and cascade."""
    from bordermatch.errors import BordermatchError
    from bordermatch.eval.lfw import run_protocol
    from bordermatch.eval.report import summary_rows, write_report

    started = time.perf_counter()
    try:
        pairs, emb, config = _embed(lfw_dir, cache_dir, workers, flip, dlib_box, limit_pairs,
                                    detect_min_side, quiet)
        pairs = [p for p in pairs if p.fold < folds]
        if len({p.fold for p in pairs}) < 2:
            raise typer.BadParameter("need at least 2 folds")
        result = run_protocol(pairs, emb, margin=margin, large=large)
    except BordermatchError as exc:
        fail(exc, as_json)
    wall = time.perf_counter() - started
    meta = {"command": "bordermatch " + shlex.join(sys.argv[1:]),
            "embedding config": json.dumps(_asdict(config)),
            "wall time": f"{wall:.0f} s (embedding + protocol)"}
    report = write_report(result, out, meta)
    rows = summary_rows(result)
    if as_json:
        typer.echo(json.dumps({"rows": rows, "wall_s": wall, "report": str(report)}))
        return
    for r in rows:
        typer.echo(f"{r['matcher']:8} accuracy {100 * r['accuracy_mean']:.2f}% "
                   f"± {100 * r['accuracy_std']:.2f}  EER {100 * r['eer']:.2f}%  "
                   f"TAR@FMR1e-3 {_fmt(r['tar_at_fmr_1e-3_view2'])}  "
                   f"TAR@1e-4(large) {_fmt(r['tar_at_fmr_0.0001_large'])}  "
                   f"dlib {100 * r['dlib_fraction']:.1f}% of pairs")
    typer.echo(f"report: {report}  ({wall:.0f} s)")


def calibrate(
    lfw_dir: Path = typer.Option(..., "--lfw-dir", help="Folder with pairs.txt and the images."),
    out: Path = typer.Option(Path("calibration.json"), "--out",
                             help="Where to write (the shipped file is "
                                  "src/bordermatch/data/calibration.json)."),
    workers: int = typer.Option(2, "--workers"),
    cache_dir: Path | None = typer.Option(None, "--cache-dir"),
    flip: bool = typer.Option(False, "--flip/--no-flip"),
    dlib_box: str = typer.Option("landmarks"),
    detect_min_side: int = typer.Option(500, help="Enlarge smaller images for detection."),
    margin: float = typer.Option(0.25, help="Cascade band margin (calibrated log-odds)."),
    quiet: bool = Quiet,
) -> None:
    """Fit calibration, fusion, cascade band and FMR thresholds on all of LFW View 2."""
    from bordermatch.errors import BordermatchError
    from bordermatch.eval.calibration import build_calibration

    try:
        pairs, emb, config = _embed(lfw_dir, cache_dir, workers, flip, dlib_box, None,
                                    detect_min_side, quiet)
        calibration = build_calibration(pairs, emb, margin, {
            "data": "LFW deep-funneled, View 2 pairs.txt (10 x 600 pairs) and all "
                    "different-person comparisons among its images",
            "command": "bordermatch " + shlex.join(sys.argv[1:]),
            "embedding_config": _asdict(config),
        })
    except BordermatchError as exc:
        fail(exc)
    out.write_text(json.dumps(calibration, indent=1) + "\n")
    for name, spec in calibration["matchers"].items():
        ts = ", ".join(f"FMR {f}: {t:.3f}" for f, t in spec["thresholds"].items())
        typer.echo(f"{name:8} {ts}")
    typer.echo(f"wrote {out}")


def _asdict(config) -> dict:
    from dataclasses import asdict

    return asdict(config)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"
