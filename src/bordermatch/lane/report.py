"""Markdown report and PNG plots for a lane evaluation (matplotlib, from the eval extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bordermatch.lane.evaluate import VehicleOutcome


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def write_report(out_dir: Path, metrics: dict[str, Any], outcomes: list[VehicleOutcome],
                 series: dict[str, Any], title: str = "Lane evaluation") -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(out_dir, metrics, series)
    m = metrics
    lines = [
        f"# {title}", "",
        f"{m['vehicles']} vehicles, {m['occupants']} occupants "
        f"({m['mated_occupants']} in the gallery, {m['nonmated_occupants']} not).", "",
        "| metric | value |", "|---|---|",
        f"| vehicle validation rate | {_pct(m['vehicle_validation_rate'])} |",
        f"| capture rate (every occupant captured) | {_pct(m['capture_rate'])} |",
        f"| match rate (mated occupants) | {_pct(m['match_rate'])} |",
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
        f"| latency p50 / p95 | {m['latency_ms_p50'] or 0:.0f} / "
        f"{m['latency_ms_p95'] or 0:.0f} ms |",
        "", "## Match rate by row and seat", "", "| row/seat | mated occupants | match rate |",
        "|---|---|---|",
    ]
    for row, rate in m["match_rate_by_row"].items():
        lines.append(f"| {row} | {m['mated_by_row'][row]} | {_pct(rate)} |")
    for seat, rate in m["match_rate_by_seat"].items():
        lines.append(f"| {seat} | | {_pct(rate)} |")
    failed = [v for v in outcomes if not v.validated][:50]
    if failed:
        lines += ["", "## Vehicles not validated (first 50)", "",
                  "| event | occupants (seat: traveller, ok) | false matches | error |",
                  "|---|---|---|---|"]
        for v in failed:
            occ = ", ".join(f"{o.seat}: {o.traveler_id or 'not enrolled'} "
                            f"{'ok' if ok else 'MISSED'}"
                            for o, ok in zip(v.occupants, v.matched, strict=True))
            lines.append(f"| {v.event_id} | {occ} | {v.false_matches} | {v.error or ''} |")
    lines += ["", *[f"![{p.stem}]({p.name})" for p in plots], ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _plots(out_dir: Path, metrics: dict[str, Any], series: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    seats = metrics["match_rate_by_seat"]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(list(seats), [100 * v for v in seats.values()], color="tab:blue")
    ax.set_ylim(0, 100)
    ax.set_ylabel("match rate (%)")
    ax.set_title("Mated occupants matched, by seat")
    fig.tight_layout()
    paths.append(out_dir / "match_rate_by_seat.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    if series.get("latency_ms"):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(series["latency_ms"], bins=30, color="tab:gray")
        ax.axvline(metrics["latency_ms_p95"], color="tab:red", label="p95")
        ax.set_xlabel("latency per vehicle (ms)")
        ax.legend()
        fig.tight_layout()
        paths.append(out_dir / "latency.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    scored = [(s, d) for s, d in series.get("scores", []) if s is not None]
    if scored:
        fig, ax = plt.subplots(figsize=(6, 3))
        for decision, colour in (("match", "tab:green"), ("review", "tab:orange"),
                                 ("no_match", "tab:red")):
            vals = [s for s, d in scored if d == decision]
            if vals:
                ax.hist(vals, bins=40, alpha=0.6, color=colour, label=decision)
        ax.set_xlabel("track score (cosine to assigned / best free candidate)")
        ax.legend()
        fig.tight_layout()
        paths.append(out_dir / "scores.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
