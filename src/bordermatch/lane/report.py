"""Markdown report and PNG plots for a lane evaluation (matplotlib, from the eval extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bordermatch.eval.plotstyle import (
    LATENCY_TARGET_MS,
    bars_with_n,
    figure,
    histogram,
    label,
    save,
    vlines,
)
from bordermatch.lane.evaluate import VehicleOutcome

_STATUS = {"match": "ok", "review": "review", "missed": "MISSED"}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} ms"


def write_report(out_dir: Path, metrics: dict[str, Any], outcomes: list[VehicleOutcome],
                 series: dict[str, Any], title: str = "Lane evaluation",
                 thresholds: dict[str, float] | None = None) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(out_dir, metrics, series, thresholds)
    m = metrics
    lines = [
        f"# {title}", "",
        f"{m['vehicles']} vehicles, {m['occupants']} occupants "
        f"({m['mated_occupants']} in the gallery, {m['nonmated_occupants']} not).", "",
        "| metric | value |", "|---|---|",
        f"| vehicle validation rate | {_pct(m['vehicle_validation_rate'])} |",
        f"| capture rate (every occupant captured) | {_pct(m['capture_rate'])} |",
        f"| match rate (mated occupants) | {_pct(m['match_rate'])} |",
        f"| right traveller held for review (mated occupants) | {_pct(m.get('review_rate'))} |",
        f"| false matches | {m['false_matches']} |",
        f"| occupant count exact | {_pct(m['occupant_count_exact_rate'])} "
        f"({m['tracks_per_occupant']:.2f} tracks per occupant) |",
        f"| seat estimate correct | {_pct(m['seat_accuracy'])} ({m['seats_checked']} checked) |",
        f"| match rate, document read / not read | {_pct(m.get('match_rate_document_read'))} "
        f"/ {_pct(m.get('match_rate_document_not_read'))} |",
        f"| correct matches by source | "
        f"{', '.join(f'{k} {v}' for k, v in (m.get('matches_by_source') or {}).items()) or '-'} |",
        f"| FNIR | {_pct(m['fnir'])} |",
        f"| FPIR (upper bound) | {_pct(m['fpir'])} |",
        f"| non-mated occupants answered no_match | {_pct(m['nonmated_correct_rate'])} |",
        f"| events with an error | {m['events_with_error']} |",
        f"| latency p50 / p95 (decided vehicles) | {_ms(m['latency_ms_p50'])} / "
        f"{_ms(m['latency_ms_p95'])} ({m.get('latency_vehicles', 'n/a')} vehicles) |",
        "", "## Match rate by row and seat", "", "| row/seat | mated occupants | match rate |",
        "|---|---|---|",
    ]
    for row, rate in m["match_rate_by_row"].items():
        lines.append(f"| {row} | {m['mated_by_row'][row]} | {_pct(rate)} |")
    for seat, rate in m["match_rate_by_seat"].items():
        lines.append(f"| {seat} | | {_pct(rate)} |")
    if m.get("verification_1to1"):
        from bordermatch.lane.verification import table_markdown

        lines += ["", "## 1:1 FNMR against the travellers' own reference photos", "",
                  *table_markdown(m["verification_1to1"])]
    failed = [v for v in outcomes if not v.validated][:50]
    if failed:
        lines += ["", "## Vehicles not validated (first 50)", "",
                  "| event | occupants (seat: traveller, ok / review / MISSED) "
                  "| false matches | error |",
                  "|---|---|---|---|"]
        for v in failed:
            statuses = v.statuses or tuple("match" if ok else "missed" for ok in v.matched)
            occ = ", ".join(f"{o.seat}: {o.traveler_id or 'not enrolled'} {_STATUS[st]}"
                            for o, st in zip(v.occupants, statuses, strict=True))
            lines.append(f"| {v.event_id} | {occ} | {v.false_matches} | {v.error or ''} |")
    drawn = (", ".join(f"{k} {v:.3f}" for k, v in thresholds.items()) if thresholds
             else "none given: the lowest scores decided match and review")
    lines += ["", f"Score plot thresholds: {drawn}.", "",
              *[f"![{p.stem}]({p.name})" for p in plots], ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _plots(out_dir: Path, metrics: dict[str, Any], series: dict[str, Any],
           thresholds: dict[str, float] | None = None) -> list[Path]:
    paths = [save(seat_figure(metrics), out_dir / "match_rate_by_seat.png")]
    if series.get("latency_ms"):
        paths.append(save(latency_figure(series["latency_ms"], metrics), out_dir / "latency.png"))
    scored = [(s, d) for s, d in series.get("scores", []) if s is not None]
    if scored:
        paths.append(save(score_figure(scored, thresholds), out_dir / "scores.png"))
    return paths


def seat_figure(metrics: dict[str, Any]) -> Any:
    """Match rate per seat, each bar labelled with the mated occupants behind it."""
    seats = metrics["match_rate_by_seat"]
    counts = metrics.get("mated_by_seat", {})
    fig, ax = figure()
    bars_with_n(ax, list(seats), [100 * v for v in seats.values()],
                [counts.get(s, 0) for s in seats], color="tab:blue")
    ax.set_ylim(0, 110)  # headroom for the n labels above a 100 % bar
    label(ax, "seat", "match rate (%)",
          f"Mated occupants matched, by seat ({metrics['vehicles']} vehicles, "
          f"{metrics['mated_occupants']} mated occupants)")
    return fig


def latency_figure(latency_ms: list[float], metrics: dict[str, Any]) -> Any:
    fig, ax = figure()
    histogram(ax, {"vehicles": latency_ms}, {"vehicles": "tab:gray"})
    lines = {"target": LATENCY_TARGET_MS}
    if metrics.get("latency_ms_p95") is not None:
        lines["p95"] = metrics["latency_ms_p95"]
    vlines(ax, lines)
    label(ax, "latency per vehicle (ms)", "vehicles",
          f"Latency per vehicle ({len(latency_ms)} vehicles)")
    ax.legend()
    return fig


def score_thresholds(scored: list[tuple[float, str]]) -> dict[str, float]:
    """Thresholds seen in the decisions when none are given: the lowest score that was
    answered match / review (the results lines do not carry the thresholds used)."""
    out = {}
    for decision in ("match", "review"):
        vals = [s for s, d in scored if d == decision]
        if vals:
            out[f"{decision} (lowest)"] = min(vals)
    return out


def score_figure(scored: list[tuple[float, str]],
                 thresholds: dict[str, float] | None = None) -> Any:
    fig, ax = figure()
    groups = {d: [s for s, dd in scored if dd == d] for d in ("match", "review", "no_match")}
    histogram(ax, groups, {"match": "tab:green", "review": "tab:orange",
                           "no_match": "tab:red"}, bins=40)
    vlines(ax, thresholds if thresholds is not None else score_thresholds(scored),
           colours=("black", "tab:purple"))
    label(ax, "track score (cosine to assigned / best free candidate)", "tracks",
          f"Track scores by decision ({len(scored)} tracks)")
    ax.legend()
    return fig
