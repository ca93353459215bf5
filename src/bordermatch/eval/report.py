"""Write evaluation results: a DET plot (PNG) and a Markdown report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bordermatch.eval import metrics
from bordermatch.eval.lfw import LARGE_FMRS, ProtocolResult
from bordermatch.eval.plotstyle import figure, label, save

log = logging.getLogger(__name__)

LABELS = {"sface": "SFace", "dlib": "dlib ResNet", "fusion": "Fusion (SFace+dlib)",
          "cascade": "Cascade (dlib only in band)"}


def _pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def summary_rows(result: ProtocolResult) -> list[dict]:
    """One dict per matcher with the figures the report and the CLI print."""
    rows = []
    for name, r in result.matchers.items():
        row = {
            "matcher": name,
            "accuracy_mean": r.accuracy_mean,
            "accuracy_std": r.accuracy_std,
            "eer": r.eer(),
            "tar_at_fmr_1e-3_view2": r.view2_tar(1e-3),
            "dlib_fraction": float(np.mean(r.fold_second)),
            "model_ms_per_pair": result.cost_per_pair_ms(name),
        }
        for f in LARGE_FMRS:
            vals = r.large_tar.get(f)
            row[f"tar_at_fmr_{f:g}_large"] = float(np.mean(vals)) if vals else None
        row["large_impostors_per_fold"] = (int(np.mean(r.large_count)) if r.large_count
                                           else None)
        rows.append(row)
    return rows


def markdown(result: ProtocolResult, meta: dict[str, str]) -> str:
    rows = summary_rows(result)
    lines = ["# LFW View-2 verification report", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        f"- pairs: {result.n_pairs} in {result.folds} folds; pairs with an image where no "
        f"face was found (scored as non-match): {result.n_fte_pairs}",
        f"- images: {result.images}; face found only below the detector's score threshold "
        f"(taken at the retry threshold): {result.images_low_score}; no face at all "
        f"(failure to enrol): {result.images_no_face}",
        f"- cascade band margin: {result.margin:g} (calibrated log-odds)",
        "",
        "Accuracy: threshold chosen on the 9 training folds, measured on the held-out fold; "
        "mean ± std over folds. EER and TAR@FMR 1e-3 (View 2) use the pooled held-out "
        "scores (View 2's impostor pairs). TAR@FMR (large) uses thresholds from every "
        "different-person comparison among the training folds' images, averaged over folds.",
        "",
        "| matcher | accuracy | EER | TAR@FMR1e-3 (View 2) | TAR@1e-3 (large) "
        "| TAR@1e-4 (large) | TAR@1e-5 (large) | pairs needing dlib | model ms/pair |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {LABELS.get(r['matcher'], r['matcher'])} "
            f"| {100 * r['accuracy_mean']:.2f}% ± {100 * r['accuracy_std']:.2f} "
            f"| {_pct(r['eer'])} | {_pct(r['tar_at_fmr_1e-3_view2'])} "
            f"| {_pct(r['tar_at_fmr_0.001_large'])} | {_pct(r['tar_at_fmr_0.0001_large'])} "
            f"| {_pct(r['tar_at_fmr_1e-05_large'])} | {_pct(r['dlib_fraction'], 1)} "
            f"| {r['model_ms_per_pair']:.0f} |"
        )
    det, sface, dlib = (1000 * t for t in result.median_times)
    lines += ["", f"Model ms/pair: 2 x (detection + embeddings needed), from the median times "
              f"measured per image in the embedding workers: detection {det:.1f} ms, SFace "
              f"{sface:.1f} ms, dlib (shape predictor + chip + ResNet) {dlib:.1f} ms."]
    n_large = rows[0]["large_impostors_per_fold"]
    if n_large:
        lines += ["", f"Large impostor set: about {n_large:,} comparisons per fold."]
    lines.append("")
    return "\n".join(lines)


def det_plot(result: ProtocolResult, path: Path) -> Path:
    """DET curves (FNMR against FMR, log axes) of the pooled held-out scores."""
    fig, ax = figure(figsize=(6, 5))
    lowest = 1.0
    for name, r in result.matchers.items():
        gen, imp = r.pooled()
        curve = metrics.det_curve(gen, imp)
        # Zero rates cannot sit on log axes: draw them at half of one error's rate.
        floor_x, floor_y = 0.5 / imp.size, 0.5 / gen.size
        lowest = min(lowest, floor_x, floor_y)
        ax.plot(np.maximum(curve.fmr, floor_x), np.maximum(curve.fnmr, floor_y),
                label=LABELS.get(name, name))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lowest, 1.0)
    ax.set_ylim(lowest, 1.0)
    label(ax, "FMR (false match rate)", "FNMR (false non-match rate)",
          "LFW View 2, pooled held-out folds")
    ax.grid(True, which="both")  # minor decades too: log axes are unreadable without them
    ax.legend()
    return save(fig, path)


def write_report(result: ProtocolResult, out_dir: Path, meta: dict[str, str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    png = det_plot(result, out_dir / "lfw_det.png")
    md = out_dir / "lfw_report.md"
    md.write_text(markdown(result, meta) + f"\n![DET]({png.name})\n")
    log.info("wrote %s and %s", md, png)
    return md
