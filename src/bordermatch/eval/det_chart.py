"""The DET curve of the configured matcher from the bundled calibration, with the service's
operating points marked (the reports page, ``web/reports.py``).

The calibration file (``data/calibration.json``) holds, per matcher, the threshold fitted
for each target FMR on every different-person comparison of LFW View 2 and the share of
View 2 genuine pairs that reach it: each is one measured (FMR, FNMR) point of the DET.
Nothing is interpolated; a point between them is not claimed. The operating points come
from ``service.thresholds.ServiceThresholds`` and sit on the calibrated FMR the threshold
was taken from (``Matcher.threshold``: the largest calibrated FMR not above the target).
The 1:N search point is an FPIR on another axis and is listed beside the chart instead.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

from bordermatch.eval import plotstyle
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import load_calibration


@dataclass(frozen=True, slots=True)
class DetPoint:
    fmr: float
    fnmr: float
    threshold: float
    impostors: int


@dataclass(frozen=True, slots=True)
class MarkedPoint:
    name: str  # "verify", "document", "alias"
    model: str
    target: float
    threshold: float
    fmr: float  # the calibrated FMR the threshold belongs to
    fnmr: float | None  # None when the matcher has no point at that threshold
    scale: str | None = None  # a normalised point's scale (match.normalise): z, not log-odds


def det_points(matcher: str, calibration: Mapping | None = None) -> list[DetPoint]:
    """The measured DET points of one calibrated matcher, FMR ascending."""
    spec = (calibration or load_calibration())["matchers"][matcher]
    out = []
    for fmr, m in spec.get("meaning", {}).items():
        if isinstance(m, dict) and "tar_view2_genuine" in m:
            out.append(DetPoint(float(fmr), 1.0 - float(m["tar_view2_genuine"]),
                                float(m["threshold"]), int(m.get("impostor_comparisons", 0))))
    return sorted(out, key=lambda p: p.fmr)


def mark(points: Mapping[str, OperatingPoint],
         calibration: Mapping | None = None) -> list[MarkedPoint]:
    """Place each 1:1 (FMR) operating point on its matcher's measured DET points."""
    calibration = calibration or load_calibration()
    out = []
    for name, op in points.items():
        if op.rate != "FMR":
            continue
        det = det_points(op.model, calibration) if op.model in calibration["matchers"] else []
        # A z-value threshold is on no point of the log-odds DET.
        at = None if op.normalisation else next(
            (p for p in det if abs(p.threshold - op.match) < 1e-9), None)
        out.append(MarkedPoint(name, op.model, op.target, op.match,
                               at.fmr if at else op.target, at.fnmr if at else None,
                               op.normalisation))
    return out


def det_png(matcher: str, marked: list[MarkedPoint], others: tuple[str, ...] = (),
            calibration: Mapping | None = None) -> bytes:
    """The DET chart as PNG bytes: log FMR against log FNMR, the configured matcher bold,
    ``others`` thin for comparison, every marked operating point labelled."""
    calibration = calibration or load_calibration()
    fig, ax = plotstyle.figure(figsize=(plotstyle.FIGSIZE[0] * 1.4, plotstyle.FIGSIZE[1]))
    drawn: dict[str, list[tuple[float, float]]] = {}
    for name in (matcher, *others):
        det = det_points(name, calibration)
        if not det:
            continue
        main = name == matcher
        curve = [(p.fmr, p.fnmr) for p in det]
        twin = next((n for n, c in drawn.items() if c == curve), None)
        drawn[name] = curve
        label = (f"{name} (configured)" if main
                 else f"{name} (same points as {twin})" if twin else name)
        ax.plot([p.fmr for p in det], [p.fnmr for p in det], marker="o",
                linewidth=2.0 if main else 1.0, alpha=1.0 if main else 0.5,
                markersize=5 if main else 3, label=label)
    for i, m in enumerate(p for p in marked if p.fnmr is not None):
        assert m.fnmr is not None
        ax.plot([m.fmr], [m.fnmr], marker="*", markersize=13, linestyle="none",
                color=("tab:red", "black", "tab:purple")[i % 3],
                label=f"{m.name}: {m.model} FMR {m.fmr:g}, threshold {m.threshold:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plotstyle.label(ax, "false match rate (FMR)", "false non-match rate (FNMR)",
                    f"DET of {matcher}, LFW View 2 (bundled calibration)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=plotstyle.DPI)
    plotstyle.pyplot().close(fig)
    return buf.getvalue()
