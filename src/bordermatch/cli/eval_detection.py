"""``bordermatch eval detection``: recall/precision by face size on WIDER FACE, per detector."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from bordermatch.cli._common import fail
from bordermatch.cli.progress import bars_enabled, output
from bordermatch.errors import BordermatchError, ConfigError

log = logging.getLogger(__name__)


def detection(
    wider_dir: Path = typer.Option(..., "--wider-dir", help="WIDER FACE (subset) folder."),
    out: Path = typer.Option(Path("reports/detection"), "--out", help="Report folder."),
    detector: str = typer.Option(
        "yunet,centerface", "--detector",
        help="Comma-separated specs name[:key=value...], e.g. centerface:scale=2; the key "
        "input_scale resizes the image for any detector (yunet:input_scale=2:max_side=4096).",
    ),
    bands: str = typer.Option("16,32,64,128", help="Upper edges of the face-height bands (px)."),
    thresholds: str = typer.Option("0.5,0.7", help="Operating score thresholds to report."),
    target_precision: str = typer.Option(
        "0.9,0.95", help="Also report at the lowest threshold reaching each precision."
    ),
    floor: float = typer.Option(0.3, help="Lowest score kept (the PR curve and AP start here)."),
    iou: float = typer.Option(0.5, help="IoU for a detection to count as the face."),
    limit: int = typer.Option(0, help="Evaluate N images spread over the set (0: all)."),
) -> None:
    """Detection recall and precision by face-size band, AP, and time per image."""
    from tqdm import tqdm

    from bordermatch import registry
    from bordermatch.eval.detection import (
        Rescaled,
        load_wider,
        run_detector,
        summarise,
        threshold_for_precision,
    )

    try:
        ops = sorted({float(t) for t in thresholds.split(",") if t.strip()})
        if not ops or min(ops) < floor:
            raise ConfigError(f"thresholds {ops} must be given and not below --floor {floor}")
        specs = [parse_spec(s) for s in detector.split(",") if s.strip()]
        targets = [float(p) for p in target_precision.split(",") if p.strip()]
        edges = [int(b) for b in bands.split(",") if b.strip()]
        if not edges or edges != sorted(set(edges)) or edges[0] <= 0:
            raise ConfigError(f"--bands must be increasing positive integers, got {bands!r}")
        images_dir, entries = load_wider(wider_dir)
        if limit > 0 and limit < len(entries):
            step = len(entries) / limit
            entries = [entries[int(i * step)] for i in range(limit)]
        figures = []
        for label, name, kwargs in specs:
            factor = kwargs.pop("input_scale", None)
            det = registry.create(
                "detector", name, **{"score_threshold": floor, "top_k": 1000, **kwargs}
            )
            if factor is not None:
                det = Rescaled(det, float(factor))
            bar = lambda it, label=label: tqdm(it, desc=label, unit="img", file=sys.stderr,  # noqa: E731
                                               disable=not bars_enabled(output()))
            results, times = run_detector(det, images_dir, entries, iou, progress=bar)
            figures += [summarise(label, results, times, t, edges) for t in ops]
            for p in targets:
                t = threshold_for_precision(results, p)
                if t is None:
                    log.warning("%s never reaches precision %g", label, p)
                    continue
                figures.append(summarise(label, results, times, t, edges, target_precision=p))
    except BordermatchError as exc:
        fail(exc)
    out.mkdir(parents=True, exist_ok=True)
    command = "bordermatch eval detection " + " ".join(sys.argv[3:])
    (out / "detection.md").write_text(render_markdown(figures, command, iou))
    plot(figures, out / "detection.png")
    (out / "detection.json").write_text(json.dumps([_as_dict(f) for f in figures], indent=1))
    for f in figures:
        typer.echo(f"{f.detector}@{_thr(f)}: AP {f.ap:.3f}, recall {f.recall:.3f}, "
                   f"precision {f.precision:.3f}, {f.mean_ms:.0f} ms/image")
    typer.echo(f"report: {out / 'detection.md'}")


def parse_spec(spec: str) -> tuple[str, str, dict]:
    """``"centerface:scale=2:max_side=2048"`` -> (label, registry name, constructor kwargs)."""
    name, *pairs = spec.strip().split(":")
    kwargs: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"detector spec {spec!r}: expected key=value, got {pair!r}")
        kwargs[key] = _number(value)
    return spec.strip(), name, kwargs


def _number(value: str) -> int | float | str:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


def _fmt(x: float, digits: int = 3) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def _thr(f) -> str:
    if f.target_precision is None:
        return f"{f.threshold:g}"
    return f"{f.threshold:.3f} (P>={f.target_precision:g})"


def render_markdown(figures, command: str, iou: float) -> str:
    first = figures[0]
    bands = [b.band for b in first.bands]
    lines = [
        "# Face detection on WIDER FACE (val subset)",
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {platform.machine()} {platform.processor() or ''}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}",
        f"- Command: `{command}`",
        f"- Images: {first.images}; valid faces: {first.faces}; IoU >= {iou}; "
        "size = box height (px)",
        "- AP: all faces, all sizes (WIDER 'hard'-like: most faces are tiny). Recall and precision"
        " at the operating threshold; time is detection only (no decoding), mean and median.",
        "",
        "| Detector | Threshold | AP | Recall | Precision | Mean ms | p50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(f"| {f.detector} | {_thr(f)} | {_fmt(f.ap)} | {_fmt(f.recall)} | "
                     f"{_fmt(f.precision)} | {f.mean_ms:.0f} | {f.p50_ms:.0f} |")
    for title, attr in (("Recall", "recall"), ("Precision", "precision")):
        lines += ["", f"## {title} by face height", "",
                  "| Detector | Threshold | " + " | ".join(bands) + " |",
                  "|---|---|" + "---|" * len(bands)]
        for f in figures:
            cells = " | ".join(_fmt(getattr(b, attr)) for b in f.bands)
            lines.append(f"| {f.detector} | {_thr(f)} | {cells} |")
    lines += ["", "Faces per band: " + ", ".join(f"{b.band}: {b.faces}" for b in first.bands), ""]
    return "\n".join(lines)


def plot(figures, path: Path) -> None:
    import numpy as np

    from bordermatch.eval.plotstyle import bars_with_n, figure, label, save

    # Recall is only comparable at matched precision, so prefer the calibrated rows.
    targeted = [f for f in figures if f.target_precision is not None]
    if targeted:
        best = max(f.target_precision for f in targeted)
        shown = [f for f in targeted if f.target_precision == best]
        ylabel = f"recall at precision >= {best:g}"
    else:
        lowest = min(f.threshold for f in figures)
        shown = [f for f in figures if f.threshold == lowest]
        ylabel = f"recall at score >= {lowest:g}"
    bands = [b.band for b in shown[0].bands]
    fig, (ax1, ax2) = figure(ncols=2)
    width = 0.8 / len(shown)
    x = np.arange(len(bands))
    for i, f in enumerate(shown):
        bars_with_n(ax1, x + i * width, [b.recall for b in f.bands],
                    [b.faces for b in f.bands], width, label=f.detector)
    ax1.set_xticks(x + width * (len(shown) - 1) / 2, bands)
    label(ax1, "face height (px)", ylabel)
    ax1.set_ylim(0, 1.1)  # headroom for the n labels
    ax1.legend()
    for f in {f.detector: f for f in figures}.values():
        rec, prec = f.pr_curve
        ax2.plot(rec, prec, label=f"{f.detector} (AP {f.ap:.3f})")
    label(ax2, "recall (all sizes)", "precision")
    ax2.set_xlim(0, 1)
    ax2.set_ylim(0, 1.02)
    ax2.legend()
    save(fig, path)


def _as_dict(f) -> dict:
    return {
        "detector": f.detector, "threshold": f.threshold, "target_precision": f.target_precision,
        "images": f.images, "faces": f.faces,
        "ap": f.ap, "recall": f.recall, "precision": f.precision,
        "mean_ms": f.mean_ms, "p50_ms": f.p50_ms,
        "bands": [{"band": b.band, "faces": b.faces, "recall": b.recall,
                   "detections": b.detections, "precision": b.precision} for b in f.bands],
    }
