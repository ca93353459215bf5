"""Lane evaluation against truth.json (ISO/IEC 19795 terms; definitions in docs/lane.md).

Occupants and tracks are paired by identity (a results line's ``seat`` is an estimate,
scored separately as seat accuracy): a mated occupant (``traveler_id`` not null) is
correctly handled when some track ``match``-es its traveller. Non-mated occupants (not in
the gallery) are then covered by the remaining tracks: the vehicle needs at least as many
unclaimed ``no_match`` tracks as it has non-mated occupants. A *false match* is a
``match`` track naming a traveller who is not in the vehicle. A vehicle is *validated*
when every occupant is correctly handled and it has no false match (DESIGN.md). It is
*captured* when every occupant is covered by a track that passed quality (decision other
than ``no_capture``), counting tracks the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch.errors import MetricError
from bordermatch.lane.events import (
    SEATS,
    LaneEventError,
    TruthOccupant,
    event_folders,
    read_event,
    read_results,
    read_truth,
)


@dataclass(frozen=True, slots=True)
class VehicleOutcome:
    event_id: str
    occupants: tuple[TruthOccupant, ...]
    matched: tuple[bool, ...]  # per truth occupant: correctly handled
    captured: bool
    validated: bool
    false_matches: int
    error: str | None
    tracks: int = 0  # tracks that passed quality: the system's occupant count
    # Seat estimates checked: mated occupants whose track names them and carries a seat.
    seats_checked: int = 0
    seats_correct: int = 0
    sources: tuple[str | None, ...] = ()  # per truth occupant: what decided its match
    # Per truth occupant: "match" (correctly handled), "review" (a track named the right
    # traveller but held it for an officer: not a match, not a miss either) or "missed".
    statuses: tuple[str, ...] = ()


def score_vehicle(event_id: str, truth: tuple[TruthOccupant, ...],
                  row: dict[str, Any] | None) -> VehicleOutcome:
    tracks = [] if row is None else list(row.get("occupants", []))
    error = "missing_result" if row is None else row.get("error")
    truth_ids = {o.traveler_id for o in truth if o.traveler_id is not None}
    claimed: set[int] = set()
    seen: set[int] = set()
    matched = []
    sources: list[str | None] = []
    seat_checks = []
    statuses = []
    for occ in truth:
        ok, source, review = False, None, False
        if occ.traveler_id is not None:
            for i, t in enumerate(tracks):
                if i not in claimed and t.get("traveler_id") == occ.traveler_id:
                    seen.add(i)
                    if t.get("seat") is not None:
                        seat_checks.append(t["seat"] == occ.seat)
                    review = review or t.get("decision") == "review"
                    if t.get("decision") == "match":
                        claimed.add(i)
                        ok, source = True, t.get("source", "gallery")
                        break
        matched.append(ok)
        sources.append(source)
        statuses.append("match" if ok else "review" if review else "missed")
    free = [t for i, t in enumerate(tracks) if i not in claimed and i not in seen]
    free_no_match = sum(t.get("decision") == "no_match" for t in free)
    nonmated = [i for i, o in enumerate(truth) if o.traveler_id is None]
    for k, i in enumerate(nonmated):
        matched[i] = k < free_no_match
        statuses[i] = "match" if matched[i] else "missed"
    false_matches = sum(t.get("decision") == "match" and t.get("traveler_id") not in truth_ids
                        for t in tracks)
    # Capture: each mated occupant seen under its own id, the rest covered by free tracks.
    seen_ids = {tracks[i].get("traveler_id") for i in seen | claimed}
    uncovered = sum(o.traveler_id is None or o.traveler_id not in seen_ids for o in truth)
    free_captured = sum(t.get("decision") != "no_capture" for t in free)
    captured = free_captured >= uncovered
    validated = all(matched) and false_matches == 0
    return VehicleOutcome(event_id, truth, tuple(matched), bool(captured), validated,
                          false_matches, error,
                          sum(t.get("decision") != "no_capture" for t in tracks),
                          len(seat_checks), sum(seat_checks), tuple(sources), tuple(statuses))


def evaluate(events_dir: Path, results_path: Path) -> tuple[dict[str, Any], list[VehicleOutcome],
                                                             dict[str, Any]]:
    """(metrics, per-vehicle outcomes, raw series for plots)."""
    results = {r["event_id"]: r for r in read_results(results_path)}
    outcomes, latencies = [], []
    for folder in event_folders(events_dir):
        try:
            truth = read_truth(folder)
        except LaneEventError:
            continue  # no truth: nothing to score
        event_id = _event_id(folder)
        row = results.get(event_id)
        outcomes.append(score_vehicle(event_id, truth, row))
        if row is not None and not failed(row) \
                and isinstance(row.get("latency_ms"), int | float):
            latencies.append(float(row["latency_ms"]))
    if not outcomes:
        raise MetricError(f"{events_dir}: no events with truth.json and a valid event.json")
    metrics = summarise(outcomes, latencies)
    series = {"latency_ms": latencies,
              "scores": [(o.get("score"), o.get("decision")) for r in results.values()
                         for o in r.get("occupants", [])]}
    return metrics, outcomes, series


def failed(row: dict[str, Any]) -> bool:
    """An event that was not decided: an error and no occupant. Its latency is how fast
    the event was refused, not how long a vehicle waits, so it stays out of the latency
    figures (a results line of an older run may carry ``unreadable_frames:<n>`` beside the
    occupants of a decided vehicle)."""
    return row.get("error") is not None and not row.get("occupants")


def _event_id(folder: Path) -> str:
    """The event_id from event.json; the folder name when event.json is unusable (the run
    reports such events under the folder name too)."""
    try:
        return read_event(folder).event_id
    except LaneEventError:
        return folder.name


def summarise(outcomes: list[VehicleOutcome], latencies: list[float]) -> dict[str, Any]:
    n = len(outcomes)
    by_row: Counter[int] = Counter()
    by_seat: Counter[str] = Counter()
    ok_row: Counter[int] = Counter()
    ok_seat: Counter[str] = Counter()
    mated = mated_ok = nonmated = nonmated_ok = mated_review = 0
    by_read: Counter[bool] = Counter()
    ok_read: Counter[bool] = Counter()
    by_source: Counter[str] = Counter()
    for v in outcomes:
        sources = v.sources or (None,) * len(v.occupants)
        statuses = v.statuses or ("",) * len(v.occupants)
        for occ, ok, source, status in zip(v.occupants, v.matched, sources, statuses,
                                           strict=True):
            if occ.traveler_id is None:
                nonmated += 1
                nonmated_ok += ok
                continue
            mated += 1
            mated_ok += ok
            mated_review += status == "review"
            if source is not None:
                by_source[source] += 1
            if occ.document_read is not None:
                by_read[occ.document_read] += 1
                ok_read[occ.document_read] += ok
            by_row[occ.row] += 1
            ok_row[occ.row] += ok
            by_seat[occ.seat] += 1
            ok_seat[occ.seat] += ok
    false_matches = sum(v.false_matches for v in outcomes)
    lat = np.asarray(latencies, dtype=float)
    checked = sum(v.seats_checked for v in outcomes)
    seats_ok = sum(v.seats_correct for v in outcomes)
    return {
        "vehicles": n,
        "occupants": mated + nonmated,
        "mated_occupants": mated,
        "nonmated_occupants": nonmated,
        "vehicle_validation_rate": sum(v.validated for v in outcomes) / n,
        "capture_rate": sum(v.captured for v in outcomes) / n,
        "match_rate": mated_ok / mated if mated else None,
        # Mated occupants whose own traveller was named but held for review (not matched).
        "review_rate": mated_review / mated if mated else None,
        "match_rate_by_row": {f"row{r}": ok_row[r] / by_row[r] for r in sorted(by_row)},
        "mated_by_row": {f"row{r}": by_row[r] for r in sorted(by_row)},
        "match_rate_by_seat": {s: ok_seat[s] / by_seat[s] for s in SEATS if by_seat[s]},
        "mated_by_seat": {s: by_seat[s] for s in SEATS if by_seat[s]},
        "false_matches": false_matches,
        # Mated occupants whose document was read in the lane (simulated truth), and what
        # decided each correct match: a document read (1:few) or the gallery search (1:N).
        "match_rate_document_read": ok_read[True] / by_read[True] if by_read[True] else None,
        "match_rate_document_not_read": (ok_read[False] / by_read[False]
                                         if by_read[False] else None),
        "matches_by_source": dict(sorted(by_source.items())),
        # Occupant count: captured tracks vs truth (more tracks = one person split in two).
        "occupant_count_exact_rate": sum(v.tracks == len(v.occupants) for v in outcomes) / n,
        "tracks_per_occupant": sum(v.tracks for v in outcomes) / max(1, mated + nonmated),
        "seat_accuracy": seats_ok / checked if checked else None,
        "seats_checked": checked,
        "fnir": 1 - mated_ok / mated if mated else None,
        # Upper bound: a false match is charged to the non-mated searches even when it came
        # from a mated occupant who was misidentified (pairing is by identity only).
        "fpir": false_matches / nonmated if nonmated else None,
        "nonmated_correct_rate": nonmated_ok / nonmated if nonmated else None,
        "events_with_error": sum(v.error is not None for v in outcomes),
        "latency_vehicles": int(lat.size),  # decided vehicles: failed events are left out
        "latency_ms_p50": float(np.percentile(lat, 50)) if lat.size else None,
        "latency_ms_p95": float(np.percentile(lat, 95)) if lat.size else None,
    }
