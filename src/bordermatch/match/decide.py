"""Turn a calibrated score into a decision at an operating point."""

from __future__ import annotations

from bordermatch.types import Decision, Outcome


def decide(score: float | None, threshold: float, target_fmr: float,
           review_threshold: float | None = None) -> Decision:
    """Match when ``score >= threshold`` (ties match). Between ``review_threshold`` and the
    threshold the outcome is REVIEW; a missing score means NO_CAPTURE."""
    if score is None:
        outcome = Outcome.NO_CAPTURE
    elif score >= threshold:
        outcome = Outcome.MATCH
    elif review_threshold is not None and score >= review_threshold:
        outcome = Outcome.REVIEW
    else:
        outcome = Outcome.NO_MATCH
    return Decision(outcome=outcome, score=score, threshold=threshold, target_fmr=target_fmr)
