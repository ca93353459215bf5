"""Score the output of ``bordermatch verify --pairs ... --json`` with the LFW View-2 protocol.

This is the product measured as users run it: the scores come from ``verify``, not from
the evaluation harness. For each of the 10 folds the accuracy threshold is the best one on
the other 9 folds (``metrics.best_accuracy_threshold``), and the held-out fold's accuracy
at that threshold is reported; the figure is the mean ± std over the folds, as in
``bordermatch eval lfw``. A results line with an ``error`` (no face, unreadable image)
is a non-match at every threshold: a verification system that cannot compare a pair
does not accept it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bordermatch.errors import ManifestError
from bordermatch.eval import metrics
from bordermatch.eval.lfw import Pair


@dataclass(frozen=True, slots=True)
class VerifyScore:
    fold_accuracy: tuple[float, ...]
    fold_threshold: tuple[float, ...]
    n_pairs: int
    errors: dict[str, int]  # error code -> pairs
    images: int
    ambiguous_images: int
    retried_images: int
    failed_images: dict[str, int]  # error code -> distinct images that caused it

    @property
    def accuracy_mean(self) -> float:
        return float(np.mean(self.fold_accuracy))

    @property
    def accuracy_std(self) -> float:
        return float(np.std(self.fold_accuracy))


def read_results(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of ``verify --pairs --json`` (blank lines skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read results ({exc})") from None
    rows = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{i}: not a JSON line ({exc.msg})") from None
        if not isinstance(row, dict) or not {"a", "b", "score", "error"} <= set(row):
            raise ManifestError(f"{path}:{i}: not a verify result (needs a, b, score, error)")
        rows.append(row)
    return rows


def score_results(pairs: Sequence[Pair], rows: Sequence[dict[str, Any]]) -> VerifyScore:
    """10-fold accuracy of verify's scores; ``rows[i]`` must be the result of ``pairs[i]``."""
    if len(rows) != len(pairs):
        raise ManifestError(f"{len(rows)} results for {len(pairs)} pairs: the results must "
                            "come from the pairs file built for this pairs.txt, in its order")
    for i, (p, r) in enumerate(zip(pairs, rows, strict=True), start=1):
        for side, want in (("a", p.a), ("b", p.b)):
            got = r.get(side)
            if got is not None and not Path(got).as_posix().endswith("/" + want):
                raise ManifestError(f"result {i}: {side} is {got!r}, expected .../{want}")
    failed = np.array([r["error"] is not None for r in rows])
    scores = np.array([np.nan if r["error"] is not None else float(r["score"]) for r in rows])
    if failed.all():
        raise ManifestError("every result is an error: nothing to score")
    # Failed pairs sit below every real score (so they never move a learnt threshold up)
    # and are forced to non-match below, whatever the threshold.
    scores[failed] = np.nanmin(scores) - 1.0
    genuine = np.array([p.genuine for p in pairs])
    fold = np.array([p.fold for p in pairs])
    accs, thresholds = [], []
    for k in sorted(set(fold.tolist())):
        train, test = fold != k, fold == k
        t = metrics.best_accuracy_threshold(scores[train & genuine], scores[train & ~genuine])
        accepted = (scores[test] >= t) & ~failed[test]
        accs.append(float(np.mean(accepted == genuine[test])))
        thresholds.append(t)
    return VerifyScore(tuple(accs), tuple(thresholds), len(rows),
                       dict(Counter(r["error"] for r in rows if r["error"] is not None)),
                       *_image_counts(rows))


def _image_counts(rows: Sequence[dict[str, Any]]) -> tuple[int, int, int, dict[str, int]]:
    images: set[str] = set()
    ambiguous: set[str] = set()
    retried: set[str] = set()
    failed: dict[str, set[str]] = {}
    for r in rows:
        images.update(p for p in (r["a"], r["b"]) if p is not None)
        if r["error"] is not None:
            side = r.get("side")
            failed.setdefault(r["error"], set()).add(r[side] if side else f"{r['a']}|{r['b']}")
            continue
        for side in ("a", "b"):
            if r.get("ambiguous", {}).get(side):
                ambiguous.add(r[side])
            if r.get("retried", {}).get(side):
                retried.add(r[side])
    return (len(images), len(ambiguous), len(retried),
            {code: len(paths) for code, paths in failed.items()})
