"""The 1:N fingerprint watchlist: subjects with 1-10 fingers, searched by 1 or more fingers.

A pure in-memory structure. ``to_bytes``/``from_bytes`` are the persistence hooks (the
service stores those bytes encrypted in its blob store and audits enrolment; this module
does neither). The byte format is JSON Lines: a header line, then one line per enrolled
finger with its subject id, ISO/IEC 19794-2 finger position and the base64 ISO/IEC
19794-2:2005 record.

Search: for each probe finger the pair-table pre-filter (:mod:`.prefilter`) keeps the
``shortlist`` most promising enrolled fingers of the same finger position (every position
when the probe's is 0, unknown), and Bozorth3 compares the probe with those only. A
subject's fused score is the **sum over probe fingers** of the best Bozorth3 score of that
probe finger against the subject's fingers (0 when none was shortlisted): higher is more
similar. Subjects whose fused score is ``>= threshold`` (ties count) are candidates, best
first. Choose the threshold for a target FPIR with :func:`threshold_for_fpir`.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from bordermatch.errors import InputError, MetricError, RecordStateError, TemplateError
from bordermatch.fingerprint.match import Bozorth3, Comparator
from bordermatch.fingerprint.minutiae import (
    FingerTemplate,
    decode_iso,
    encode_iso,
    finger_position,
)
from bordermatch.fingerprint.prefilter import PairIndex
from bordermatch.match.calibrate import as_scores

__all__ = [
    "DEFAULT_SHORTLIST",
    "FingerScore",
    "SearchResult",
    "Watchlist",
    "WatchlistCandidate",
    "threshold_for_fpir",
]

# 25: in benchmarks/fingerprint_search.py k=25 lost no more real mates than k=50 (6.1%, 3 of
# 49 genuine pairs) at half the Bozorth3 cost; k=100 and beyond did not help until k=200.
DEFAULT_SHORTLIST = 25
FORMAT = "bordermatch-fingerprint-watchlist/1"


@dataclass(frozen=True, slots=True)
class FingerScore:
    probe_index: int  # which probe finger
    position: int  # the enrolled finger it was compared with
    score: float


@dataclass(frozen=True, slots=True)
class WatchlistCandidate:
    subject_id: str
    score: float  # fused over probe fingers
    rank: int  # 1 is the best
    fingers: tuple[FingerScore, ...]


@dataclass(frozen=True, slots=True)
class SearchResult:
    candidates: tuple[WatchlistCandidate, ...]  # fused score >= threshold, best first
    best: WatchlistCandidate | None  # the top subject even below the threshold, for the log
    threshold: float
    comparisons: int  # Bozorth3 comparisons made
    prefiltered: int  # enrolled fingers the pre-filter scored
    prefilter_ms: float = 0.0  # wall time in the pre-filter
    compare_ms: float = 0.0  # wall time in Bozorth3


class Watchlist:
    """Enrolled subjects and their fingers; rebuilds its pre-filter index lazily."""

    def __init__(self, comparator: Comparator | None = None) -> None:
        self._comparator = comparator or Bozorth3()
        self._subjects: dict[str, dict[int, FingerTemplate]] = {}
        self._flat: list[tuple[str, int, FingerTemplate]] | None = None
        self._prepared: dict[tuple[str, int], object] = {}
        self._index: PairIndex | None = None

    # -- enrolment -----------------------------------------------------------------
    def enrol(self, subject_id: str, fingers: Mapping[int, FingerTemplate]) -> None:
        """Enrol (or replace) a subject with 1-10 fingers keyed by position code 1-10."""
        if not subject_id or not isinstance(subject_id, str):
            raise InputError("subject id must be a non-empty string")
        if not 1 <= len(fingers) <= 10:
            raise InputError(f"a subject has 1-10 fingers, got {len(fingers)}")
        clean: dict[int, FingerTemplate] = {}
        for pos, t in fingers.items():
            code = finger_position(pos)
            if code == 0:
                raise InputError("enrolled fingers need a known finger position (1-10)")
            if len(t) == 0:
                raise TemplateError(f"{subject_id} position {code}: no minutiae")
            clean[code] = t.with_position(code)
        self._subjects[subject_id] = clean
        # A re-enrolment replaces every finger of the subject, including dropped ones.
        self._prepared = {k: v for k, v in self._prepared.items() if k[0] != subject_id}
        for code, t in clean.items():
            self._prepared[(subject_id, code)] = self._comparator.prepare(t)
        self._invalidate()

    def remove(self, subject_id: str) -> None:
        if self._subjects.pop(subject_id, None) is None:
            raise RecordStateError(f"subject {subject_id!r} is not on the watchlist")
        self._prepared = {k: v for k, v in self._prepared.items() if k[0] != subject_id}
        self._invalidate()

    def subjects(self) -> list[str]:
        return sorted(self._subjects)

    def fingers(self, subject_id: str) -> dict[int, FingerTemplate]:
        return dict(self._subjects[subject_id])

    @property
    def n_fingers(self) -> int:
        return sum(len(f) for f in self._subjects.values())

    def __len__(self) -> int:
        return len(self._subjects)

    def copy(self) -> Watchlist:
        """A watchlist with the same subjects (templates and prepared forms shared, both
        immutable), to enrol into while searches go on in this one."""
        other = Watchlist(self._comparator)
        other._subjects = {sid: dict(f) for sid, f in self._subjects.items()}
        other._prepared = dict(self._prepared)
        return other

    def build_index(self) -> None:
        """Build the pre-filter index now rather than in the first search after a change."""
        self._ensure_index()

    def _invalidate(self) -> None:
        self._flat = None
        self._index = None

    def _ensure_index(self) -> tuple[list[tuple[str, int, FingerTemplate]], PairIndex]:
        if self._flat is None or self._index is None:
            self._flat = [(sid, pos, t) for sid in sorted(self._subjects)
                          for pos, t in sorted(self._subjects[sid].items())]
            self._index = PairIndex.build([t for _, _, t in self._flat])
            self._positions = np.array([pos for _, pos, _ in self._flat], dtype=np.int64)
        return self._flat, self._index

    # -- search --------------------------------------------------------------------
    def search(self, probe: Sequence[FingerTemplate], threshold: float,
               max_candidates: int = 10, shortlist: int = DEFAULT_SHORTLIST
               ) -> SearchResult:
        if not probe:
            raise InputError("a search needs at least one probe finger")
        if len(probe) > 10:
            raise InputError(f"at most 10 probe fingers, got {len(probe)}")
        flat, index = self._ensure_index()
        per_subject: dict[str, dict[int, FingerScore]] = {}
        comparisons = 0
        t_pre = t_cmp = 0.0
        for p_i, p in enumerate(probe):
            allowed = None if p.position == 0 else self._positions == p.position
            t0 = time.perf_counter()
            short = index.shortlist(p, shortlist, allowed)
            t1 = time.perf_counter()
            prepared = self._comparator.prepare(p)
            for n in short:
                sid, pos, _ = flat[int(n)]
                score = self._comparator.compare(prepared, self._prepared[(sid, pos)])
                comparisons += 1
                best = per_subject.setdefault(sid, {}).get(p_i)
                if best is None or score > best.score:
                    per_subject[sid][p_i] = FingerScore(p_i, pos, score)
            t_pre += t1 - t0
            t_cmp += time.perf_counter() - t1
        fused = sorted(((sum(f.score for f in fs.values()), sid, fs)
                        for sid, fs in per_subject.items()), key=lambda r: (-r[0], r[1]))
        ranked = [WatchlistCandidate(sid, s, r, tuple(fs[k] for k in sorted(fs)))
                  for r, (s, sid, fs) in enumerate(fused, start=1)]
        hits = tuple(c for c in ranked if c.score >= threshold)[:max_candidates]
        return SearchResult(hits, ranked[0] if ranked else None, threshold, comparisons,
                            len(flat), 1e3 * t_pre, 1e3 * t_cmp)

    def trials(self, probe_positions: Sequence[int]) -> int:
        """How many (subject, one enrolled finger per probe finger) combinations a search with
        these probe positions fuses: the ``n_subjects`` to give :func:`threshold_for_fpir`.
        With known positions it is the number of subjects holding those fingers; a probe
        finger of unknown position (0) may pair with any of a subject's fingers, and the
        union bound counts every such pairing."""
        total = 0
        for fingers in self._subjects.values():
            combos = 1
            for pos in probe_positions:
                combos *= len(fingers) if pos == 0 else int(pos in fingers)
            total += combos
        return max(total, 1)

    # -- persistence hooks ---------------------------------------------------------
    def to_bytes(self) -> bytes:
        lines = [json.dumps({"format": FORMAT, "subjects": len(self),
                             "fingers": self.n_fingers})]
        for sid in sorted(self._subjects):
            for pos, t in sorted(self._subjects[sid].items()):
                lines.append(json.dumps({"subject_id": sid, "position": pos,
                                         "iso_19794_2_2005":
                                             base64.b64encode(encode_iso(t)).decode()}))
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, comparator: Comparator | None = None) -> Watchlist:
        try:
            lines = data.decode().splitlines()
            header = json.loads(lines[0])
            if header.get("format") != FORMAT:
                raise TemplateError(f"not a {FORMAT} file")
            grouped: dict[str, dict[int, FingerTemplate]] = {}
            for line in lines[1:]:
                row = json.loads(line)
                t = decode_iso(base64.b64decode(row["iso_19794_2_2005"], validate=True))
                grouped.setdefault(str(row["subject_id"]), {})[int(row["position"])] = t
        except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError,
                AttributeError) as exc:
            raise TemplateError(f"malformed watchlist ({exc})") from None
        wl = cls(comparator)
        for sid, fingers in grouped.items():
            wl.enrol(sid, fingers)
        if len(wl) != header.get("subjects") or wl.n_fingers != header.get("fingers"):
            raise TemplateError("watchlist header counts do not match its records")
        return wl


def threshold_for_fpir(impostor_scores: ArrayLike, n_probe_fingers: int, n_subjects: int,
                       target_fpir: float) -> float:
    """The fused-score threshold whose FPIR is at most ``target_fpir`` for searches of
    ``n_probe_fingers`` against ``n_subjects`` subjects, from 1:1 impostor scores.

    Model (stated, not measured): impostor scores of different fingers are independent, and
    the fused impostor score is the sum of ``n_probe_fingers`` such scores, so its
    distribution is the ``n``-fold convolution of the empirical one; a non-mated search is a
    false positive when any of ``n_subjects`` independent subjects reaches the threshold:
    FPIR = 1 - (1 - FMR_fused)^N. Integer scores (Bozorth3) are assumed. The pre-filter only
    lowers fused scores, so the FPIR it yields is at most the target. Raises MetricError when
    the required fused FMR lies beyond what the data can resolve.
    """
    imp = as_scores(impostor_scores, "impostor scores")
    if np.any(imp != np.round(imp)) or np.any(imp < 0):
        raise MetricError("threshold_for_fpir expects non-negative integer scores")
    if not (0 < target_fpir < 1) or n_probe_fingers < 1 or n_subjects < 1:
        raise MetricError("target FPIR in (0, 1), at least 1 finger and 1 subject")
    per_subject = -math.expm1(math.log1p(-target_fpir) / n_subjects)
    floor = imp.size ** -float(n_probe_fingers)
    if per_subject < floor * (1 - 1e-9):
        raise MetricError(f"a fused FMR of {per_subject:.3g} is below what {imp.size} "
                          f"impostor scores resolve ({floor:.3g})")
    pmf = np.bincount(imp.astype(np.int64)).astype(np.float64) / imp.size
    fused = pmf
    for _ in range(n_probe_fingers - 1):
        fused = np.convolve(fused, pmf)
    tail = np.cumsum(fused[::-1])[::-1]  # tail[t] = P(fused >= t)
    ok = np.flatnonzero(tail <= per_subject * (1 + 1e-9))
    return float(ok[0]) if ok.size else float(fused.size)
