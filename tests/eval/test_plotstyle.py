"""The plots carry what a reader needs: axis labels, threshold/target lines at the given
values, uniform bins, whole-number count ticks and n on every bar. The figures are checked
as Axes objects before saving, which is what the PNGs are drawn from."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from bordermatch.eval import plotstyle
from bordermatch.lane import report


def _vline_xs(ax) -> list[float]:
    # axvline draws a Line2D whose two x coordinates are equal.
    return [float(line.get_xdata()[0]) for line in ax.get_lines()
            if len(set(np.asarray(line.get_xdata(), dtype=float))) == 1]


def _bar_widths(ax) -> list[float]:
    return [round(p.get_width(), 9) for p in ax.patches]


def _integer_ticks(ax) -> bool:
    ticks = ax.yaxis.get_major_locator().tick_values(*ax.get_ylim())
    return bool(np.allclose(ticks, np.round(ticks)))


def _close(fig) -> None:
    plotstyle.pyplot().close(fig)


METRICS = {"vehicles": 3, "mated_occupants": 5, "latency_ms_p95": 420.0,
           "match_rate_by_seat": {"driver": 1.0, "front_passenger": 0.5},
           "mated_by_seat": {"driver": 3, "front_passenger": 2}}


def test_uniform_bins_span_every_group() -> None:
    edges = plotstyle.uniform_bins([[0.0, 0.2], [0.9, 1.0]], bins=10)
    assert edges[0] == 0.0 and edges[-1] == 1.0
    assert np.allclose(np.diff(edges), 0.1)


def test_score_histogram_has_labels_thresholds_uniform_bins_integer_counts() -> None:
    scored = [(0.8, "match"), (0.75, "match"), (0.5, "review"), (0.2, "no_match"),
              (0.1, "no_match")]
    fig = report.score_figure(scored, {"match": 0.7, "review": 0.4})
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() == "tracks"
    assert sorted(_vline_xs(ax)) == [0.4, 0.7]
    assert len(set(_bar_widths(ax))) == 1  # all three decisions on the same edges
    assert _integer_ticks(ax)
    assert any("0.7" in t.get_text() for t in ax.get_legend().get_texts())
    _close(fig)


def test_score_thresholds_inferred_when_not_given() -> None:
    scored = [(0.8, "match"), (0.75, "match"), (0.5, "review"), (0.2, "no_match")]
    fig = report.score_figure(scored)
    assert sorted(_vline_xs(fig.axes[0])) == [0.5, 0.75]
    _close(fig)


def test_latency_plot_has_target_line_and_integer_counts() -> None:
    fig = report.latency_figure([100.0, 150.0, 420.0], METRICS)
    ax = fig.axes[0]
    assert plotstyle.LATENCY_TARGET_MS == 1000.0
    assert sorted(_vline_xs(ax)) == [420.0, 1000.0]
    assert ax.get_xlabel() and ax.get_ylabel() == "vehicles"
    assert _integer_ticks(ax)
    assert len(set(_bar_widths(ax))) == 1
    _close(fig)


def test_seat_bars_say_n() -> None:
    fig = report.seat_figure(METRICS)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["n=3", "n=2"]
    assert "3 vehicles" in ax.get_title() and "5 mated" in ax.get_title()
    _close(fig)


def test_lane_plots_keep_file_names(tmp_path) -> None:
    series = {"latency_ms": [100.0, 200.0], "scores": [(0.8, "match"), (None, "no_capture")]}
    paths = report._plots(tmp_path, METRICS, series)
    assert [p.name for p in paths] == ["match_rate_by_seat.png", "latency.png", "scores.png"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_detection_plot_bars_say_n(tmp_path, monkeypatch) -> None:
    from bordermatch.cli import eval_detection

    # plot() imports save from plotstyle when it runs, so a spy there sees the figure.
    seen = {}
    original = plotstyle.save

    def spy(fig, path):
        seen["fig"] = fig
        return original(fig, path)

    monkeypatch.setattr(plotstyle, "save", spy)
    bands = [SimpleNamespace(band="<16", faces=7, recall=0.2),
             SimpleNamespace(band=">=16", faces=4, recall=0.9)]
    f = SimpleNamespace(detector="yunet", target_precision=None, threshold=0.5, bands=bands,
                        pr_curve=([0.0, 1.0], [1.0, 0.5]), ap=0.6)
    eval_detection.plot([f], tmp_path / "det.png")
    assert (tmp_path / "det.png").stat().st_size > 0
    ax1, ax2 = seen["fig"].axes
    assert [t.get_text() for t in ax1.texts] == ["n=7", "n=4"]
    assert all(a.get_xlabel() and a.get_ylabel() for a in (ax1, ax2))
