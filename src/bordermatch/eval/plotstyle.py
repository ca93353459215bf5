"""One place for plot styling, so every PNG the project writes looks and reads the same.

Each plot used to set its own figure size, dpi and grid, and some left out axis labels,
threshold lines or the sample sizes behind a bar; these helpers make those the default.
matplotlib comes from the eval extra, so it is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FIGSIZE = (6.4, 4.0)
DPI = 110
FONT_SIZE = 9
# The lane's latency target: one vehicle processed within a second.
LATENCY_TARGET_MS = 1000.0


def pyplot() -> Any:
    """pyplot on the Agg backend (no display on servers and CI), with the shared style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1,
                         "legend.fontsize": FONT_SIZE - 1, "axes.grid": True,
                         "grid.alpha": 0.3, "savefig.dpi": DPI})
    return plt


def figure(ncols: int = 1, figsize: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """(fig, ax) or (fig, axes) with the shared figure size (widened for side-by-side axes)."""
    plt = pyplot()
    size = figsize or (FIGSIZE[0] * ncols, FIGSIZE[1])
    return plt.subplots(1, ncols, figsize=size, dpi=DPI)


def label(ax: Any, x: str, y: str, title: str | None = None) -> None:
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)


def vlines(ax: Any, lines: dict[str, float], colours: Sequence[str] = ("tab:red", "black",
           "tab:purple", "tab:brown")) -> None:
    """Labelled vertical lines (thresholds, targets); the label carries the value so the
    figure can be read without the report."""
    for i, (name, x) in enumerate(lines.items()):
        colour = colours[i % len(colours)]
        ax.axvline(x, color=colour, linestyle="--", linewidth=1, label=f"{name} = {x:g}")


def uniform_bins(groups: Iterable[Sequence[float]], bins: int = 30) -> np.ndarray:
    """Edges shared by every group: comparable bar widths in an overlaid histogram."""
    values = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    return np.histogram_bin_edges(values, bins=bins)


def integer_counts(ax: Any, axis: str = "y") -> None:
    """Counts are whole numbers; without this small samples get ticks like 0.5."""
    from matplotlib.ticker import MaxNLocator

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_locator(MaxNLocator(integer=True))


def histogram(ax: Any, groups: Mapping[str, Sequence[float]], colours: dict[str, str] | None = None,
              bins: int = 30) -> np.ndarray:
    """Overlaid histograms on uniform shared bins, integer count ticks; returns the edges."""
    shown = {k: v for k, v in groups.items() if len(v)}
    edges = uniform_bins(shown.values(), bins)
    for name, vals in shown.items():
        ax.hist(vals, bins=edges, alpha=0.6 if len(shown) > 1 else 0.9,
                color=(colours or {}).get(name), label=name)
    integer_counts(ax)
    return edges


def bars_with_n(ax: Any, x: Any, heights: Sequence[float], ns: Sequence[int],
                width: float = 0.8, **kw: Any) -> Any:
    """Bars labelled n=... so a rate from 3 people is not read like one from 300."""
    bars = ax.bar(x, heights, width, **kw)
    ax.bar_label(bars, labels=[f"n={n}" for n in ns], fontsize=FONT_SIZE - 2, padding=1)
    return bars


def save(fig: Any, path: Path) -> Path:
    """tight_layout, write, close (figures left open leak memory in long runs)."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    pyplot().close(fig)
    return path
