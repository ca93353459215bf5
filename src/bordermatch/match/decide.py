"""The one decision rule: every 1:1, gate, lane and booth decision is taken here.

Scores are on one scale everywhere: the calibrated log-odds that a pair is genuine, from
the recognizer's logistic calibration (``bordermatch.match.fusion``; higher means more
similar). An :class:`OperatingPoint` holds the thresholds on that scale, the rate they
were calibrated for (FMR for 1:1 comparisons, FPIR for 1:N searches) and where the
calibration came from. :func:`decide` turns a score into an outcome and a reason;
:func:`identify` decides every probe of one encounter (the faces of a gate photo, the
tracks of a vehicle) against a gallery with one-to-one assignment and the runner-up rule;
:func:`identify_with_documents` first verifies them against the travellers whose travel
documents were read (1:few at a 1:1 operating point), then searches the rest.

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
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ConfigError
from bordermatch.match.normalise import check_normalisation
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
    # The scale of the scores (match.normalise): None for calibrated scores as they come,
    # "tnorm" / "snorm" for z-values against the probe's (and the reference's) cohort.
    normalisation: str | None = None

    def __post_init__(self) -> None:
        check_normalisation(self.normalisation)
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
                        runner_up, point.normalisation)

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
    source: str = "gallery"  # "document": verified 1:few against a document read


def identify(scores: NDArray[np.float32], traveler_ids: Sequence[str], point: OperatingPoint,
             aliases: Mapping[str, Collection[str]] | None = None,
             gain: NDArray[np.float32] | None = None) -> list[Identification]:
    """Decide every probe (row) of one encounter against a gallery (columns).

    Probes are assigned to travellers one to one, maximising the total score over pairs
    at or above the review floor (a person crosses once per vehicle), then each assigned
    pair is decided by :func:`decide` with the best *other* traveller as runner-up. A probe
    left without a traveller is a no-match at the best score still free. An empty row
    (empty gallery) is a no-match without a score. ``gain`` (same shape): what the
    assignment maximises instead of the scores (raw scores under normalised ones).
    """
    from bordermatch.match.search import assign_one_to_one

    scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    if scores.shape[1] != len(traveler_ids):
        raise ConfigError(f"{scores.shape[1]} score columns for {len(traveler_ids)} travellers")
    aliases = aliases or {}
    cols = (assign_one_to_one(scores, point.floor, gain) if scores.shape[1]
            else [None] * len(scores))
    taken = [c for c in cols if c is not None]
    out = []
    for row, col in zip(scores, cols, strict=True):
        if col is None:
            # Every free traveller is below the floor (or was taken by a better probe).
            free = np.delete(row, taken) if taken else row
            score = float(free.max()) if free.size else None
            out.append(Identification(None, Decision(
                Outcome.NO_MATCH, Reason.BELOW_THRESHOLD, score, point.match, point.rate,
                point.target, scale=point.normalisation)))
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


# Spreads of the cohort (or log-odds on raw scores) by which a read traveller's fit to a
# track must fall short of both their own track's fit and the track's own traveller's fit
# to be explained by the one-person-per-track assignment (docs/lane.md).
EXPLAINED_MARGIN = 1.0


def _explain_runners_up(found: list[Identification], scores: NDArray[np.float32],
                        column: Mapping[str, int], margin: float) -> list[Identification]:
    """1:few runner-up reviews whose runner-up is matched elsewhere and fits there, and
    fits this track less than its own traveller, by ``margin`` each: matches."""
    matched_on = {f.traveler_id: i for i, f in enumerate(found)
                  if f.decision.outcome is Outcome.MATCH}
    out = list(found)
    for i, f in enumerate(found):
        d = f.decision
        j = matched_on.get(f.runner_up_id)
        if d.reason is not Reason.RUNNER_UP or j is None or j == i or d.score is None:
            continue
        rival = column[f.runner_up_id or ""]
        here = float(scores[i, rival])
        if float(scores[j, rival]) - here >= margin and d.score - here >= margin:
            out[i] = replace(f, decision=replace(d, outcome=Outcome.MATCH,
                                                 reason=Reason.ABOVE_THRESHOLD))
    return out


def identify_with_documents(scores: NDArray[np.float32], traveler_ids: Sequence[str],
                            claimed: Collection[str], point: OperatingPoint,
                            document_point: OperatingPoint,
                            aliases: Mapping[str, Collection[str]] | None = None,
                            document_scores: NDArray[np.float32] | None = None,
                            document_gain: NDArray[np.float32] | None = None,
                            explained_margin: float = EXPLAINED_MARGIN,
                            ) -> list[Identification]:
    """Decide every probe, using the travel documents read for this encounter.

    A read names who may be present; it is evidence, never proof, and the face decides:

    1. 1:few: the probes are decided against the ``claimed`` travellers only, at
       ``document_point`` (a 1:1 FMR operating point: a handful of comparisons, not a
       search of thousands), on ``document_scores`` when given (the same probes and
       columns, fused for 1:1 comparisons; ``document_gain``, their raw values when they are
       normalised, assigns tracks to travellers) else on ``scores``. A match that another
       claimed traveller also fits is review (runner-up), unless that fit is explained:
       the other traveller is matched to another track of the vehicle, which fits them
       ``explained_margin`` better than this one does, and this track fits its own
       traveller that much better too (one person per track; twins fit both tracks
       alike and stay review). A match also becomes review
       when a traveller *not* claimed fits the face better than the claimed one, at the
       open-set review floor of ``point``: a card from the next lane must not let its
       holder's look-alike, who is in the car, through. A gallery traveller who fits less
       well than the read one does not hold the match (measured: docs/lane.md).
    2. 1:N: every probe without a 1:few match is searched against the whole gallery, less
       the travellers matched in step 1, at the open-set ``point``. A 1:N match wins;
       otherwise a 1:few review stands (its reason names the read); otherwise the 1:N
       outcome (review or no-match) is the answer.
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
    column = {t: i for i, t in enumerate(traveler_ids)}
    few_cols = sorted({column[t] for t in claimed if t in column})
    n = len(scores)
    few: list[Identification | None] = [None] * n
    one_to_one = scores if document_scores is None else np.atleast_2d(
        np.asarray(document_scores, dtype=np.float32))
    if one_to_one.shape != scores.shape:
        raise ConfigError(f"document scores {one_to_one.shape} for scores {scores.shape}")
    if few_cols:
        others = np.setdiff1d(np.arange(scores.shape[1]), few_cols)
        found = identify(one_to_one[:, few_cols], [traveler_ids[c] for c in few_cols],
                         document_point, aliases,
                         None if document_gain is None
                         else np.atleast_2d(document_gain)[:, few_cols])
        found = _explain_runners_up(found, one_to_one, column, explained_margin)
        for i, f in enumerate(found):
            f = replace(f, source="document")
            best_other = float(scores[i, others].max()) if others.size else None
            if f.decision.outcome is Outcome.MATCH and best_other is not None \
                    and best_other >= point.floor \
                    and best_other > float(scores[i, column[f.traveler_id or ""]]):
                rid = traveler_ids[int(others[scores[i, others].argmax()])]
                # ``runner_up`` stays a search score: it is held to the open-set floor.
                f = replace(f, decision=replace(f.decision, outcome=Outcome.REVIEW,
                                                reason=Reason.RUNNER_UP,
                                                runner_up=best_other), runner_up_id=rid)
            few[i] = f
    taken = {column[f.traveler_id] for f in few
             if f is not None and f.traveler_id is not None
             and f.decision.outcome is Outcome.MATCH}
    rest = [i for i, f in enumerate(few) if f is None or f.decision.outcome
            is not Outcome.MATCH]
    # The None entries are all in ``rest``, and each is replaced below.
    out: list[Identification] = [f for f in few]  # type: ignore[misc]
    if rest:
        keep = np.setdiff1d(np.arange(scores.shape[1]), sorted(taken))
        # numpy's stubs take arrays only; ix_ takes int lists too.
        wide = identify(scores[np.ix_(rest, keep)],  # type: ignore[arg-type]
                        [traveler_ids[c] for c in keep], point, aliases)
        for i, w in zip(rest, wide, strict=True):
            prior = few[i]
            # A 1:N match wins; otherwise a 1:few review (it carries the read) stands.
            if (w.decision.outcome is not Outcome.MATCH and prior is not None
                    and prior.decision.outcome is Outcome.REVIEW):
                out[i] = prior
            else:
                out[i] = w
    return out
