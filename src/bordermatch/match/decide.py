"""The one decision rule: every 1:1, gate, lane and booth decision is taken here.

Scores are on one scale everywhere: the calibrated log-odds that a pair is genuine, from
the recognizer's logistic calibration (``bordermatch.match.fusion``; higher means more
similar). An :class:`OperatingPoint` holds the thresholds on that scale, the rate they
were calibrated for (FMR for 1:1 comparisons, FPIR for 1:N searches) and where the
calibration came from. :func:`decide` turns a score into an outcome and a reason;
:func:`identify` decides every probe of one encounter (the faces of a gate photo, the
tracks of a vehicle) against a gallery with one-to-one assignment and the runner-up rule.

The rule, with ties at a threshold counting as reached:

* no score (no usable face): ``no_capture``;
* score >= match: ``match``, unless another identity also reaches the review threshold,
  then ``review`` (reason ``runner_up``, or ``alias`` when the two are flagged as one face
  under two identities): twins, one person under two names and close look-alikes are for
  an officer, whether or not anyone flagged them;
* review <= score < match: ``review`` (reason ``review_band``);
* below: ``no_match``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError
from bordermatch.types import Decision, Outcome, Reason

RATES = ("FMR", "FPIR")


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """Thresholds on the calibrated scale of ``model``, and their provenance.

    ``samples`` is the number of non-mated comparisons (FMR) or searches (FPIR) the
    thresholds were fitted on: a target below ``1 / samples`` cannot have been shown.
    """

    model: str
    rate: str
    target: float
    match: float
    review: float | None = None
    review_target: float | None = None
    samples: int = 0
    provenance: str = ""

    def __post_init__(self) -> None:
        if self.rate not in RATES:
            raise ConfigError(f"operating point rate must be one of {RATES}, not {self.rate!r}")
        if not (0.0 < self.target <= 1.0) or not math.isfinite(self.match):
            raise ConfigError(f"operating point for {self.model!r}: bad target or threshold")
        if self.review is not None and self.review > self.match:
            raise ConfigError("the review threshold must not exceed the match threshold")

    @property
    def floor(self) -> float:
        """The lowest score that is more than a no-match (review, else match)."""
        return self.match if self.review is None else self.review

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> OperatingPoint:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: operating point file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: unreadable operating point ({exc})") from None
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not {"model", "rate", "target", "match"} <= set(data):
            raise ConfigError(f"{path}: not an operating point file (needs model, rate, "
                              "target, match)")
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{path}: unknown operating point fields {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def decide(score: float | None, point: OperatingPoint, runner_up: float | None = None,
           runner_up_alias: bool = False) -> Decision:
    """Outcome and reason of one score at ``point`` (see the module docstring).

    ``runner_up`` is the best score of any other identity the probe was compared with;
    ``runner_up_alias`` says that identity is flagged as possibly the same face.
    """
    def out(outcome: Outcome, reason: Reason) -> Decision:
        return Decision(outcome, reason, score, point.match, point.rate, point.target,
                        runner_up)

    if score is None:
        return out(Outcome.NO_CAPTURE, Reason.NO_CAPTURE)
    if score >= point.match:
        if runner_up is not None and runner_up >= point.floor:
            return out(Outcome.REVIEW, Reason.ALIAS if runner_up_alias else Reason.RUNNER_UP)
        return out(Outcome.MATCH, Reason.ABOVE_THRESHOLD)
    if point.review is not None and score >= point.review:
        return out(Outcome.REVIEW, Reason.REVIEW_BAND)
    return out(Outcome.NO_MATCH, Reason.BELOW_THRESHOLD)


@dataclass(frozen=True, slots=True)
class Identification:
    """One probe's 1:N outcome: the traveller it names (for match and review) and why."""

    traveler_id: str | None
    decision: Decision
    runner_up_id: str | None = None


def identify(scores: NDArray[np.float32], traveler_ids: Sequence[str], point: OperatingPoint,
             aliases: Mapping[str, Collection[str]] | None = None) -> list[Identification]:
    """Decide every probe (row) of one encounter against a gallery (columns).

    Probes are assigned to travellers one to one, maximising the total score over pairs
    at or above the review floor (a person crosses once per vehicle), then each assigned
    pair is decided by :func:`decide` with the best *other* traveller as runner-up. A probe
    left without a traveller is a no-match at the best score still free. An empty row
    (empty gallery) is a no-match without a score.
    """
    from bordermatch.match.search import assign_one_to_one

    scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if scores.shape[1] != len(traveler_ids):
        raise ConfigError(f"{scores.shape[1]} score columns for {len(traveler_ids)} travellers")
    aliases = aliases or {}
    cols = assign_one_to_one(scores, point.floor) if scores.shape[1] else [None] * len(scores)
    taken = [c for c in cols if c is not None]
    out = []
    for row, col in zip(scores, cols, strict=True):
        if col is None:
            # Every free traveller is below the floor (or was taken by a better probe).
            free = np.delete(row, taken) if taken else row
            score = float(free.max()) if free.size else None
            out.append(Identification(None, Decision(
                Outcome.NO_MATCH, Reason.BELOW_THRESHOLD, score, point.match, point.rate,
                point.target)))
            continue
        tid = traveler_ids[col]
        second = _runner_up(row, col)
        rid = traveler_ids[second] if second is not None else None
        decision = decide(float(row[col]), point,
                          float(row[second]) if second is not None else None,
                          rid is not None and rid in aliases.get(tid, ()))
        named = decision.outcome in (Outcome.MATCH, Outcome.REVIEW)
        out.append(Identification(tid if named else None, decision,
                                  rid if decision.reason in (Reason.RUNNER_UP, Reason.ALIAS)
                                  else None))
    return out


def _runner_up(row: NDArray[np.float32], col: int) -> int | None:
    """Column of the best score of any traveller but ``col`` (None for a one-person gallery).

    Measured on the pooled lane development sets: the runner-up rule sends 10 of 597
    correct matches to review and stops all 5 wrong ones (docs/lane.md).
    """
    if row.size < 2:
        return None
    masked = row.copy()
    masked[col] = -np.inf
    return int(masked.argmax())
