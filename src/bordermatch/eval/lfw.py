"""The LFW View-2 protocol: 10 folds x 600 pairs, thresholds learnt on 9 folds, tested on 1.

For each held-out fold the calibration, fusion and cascade band are fitted on the nine
training folds only (see :mod:`bordermatch.eval.fit`), the accuracy threshold is the best
one on the training folds, and the held-out fold gives the accuracy. Reported per matcher:

- accuracy mean ± std over the 10 folds (the standard LFW figure);
- EER and TAR at FMR 1e-3 over the pooled held-out scores of View 2 (3,000 impostors);
- TAR at FMR 1e-3 / 1e-4 / 1e-5 with thresholds from a *large* impostor set: every
  comparison between two different people among the training folds' images (View-2 folds
  are person-disjoint), applied to the held-out fold's genuine pairs, averaged over folds.
  View 2's 3,000 impostors alone cannot support FMR below 1/3,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import ManifestError
from bordermatch.eval import metrics
from bordermatch.eval.fit import apply, fit_matchers, score_pairs
from bordermatch.eval.lfw_embed import STATUS_FTE, STATUS_RETRY, Embeddings
from bordermatch.match.calibrate import threshold_for_rate
from bordermatch.match.fusion import Matcher

MATCHERS = ("sface", "dlib", "fusion", "cascade")
LARGE_FMRS = (1e-3, 1e-4, 1e-5)
# An image without a face yields this cosine, below any real one: a certain non-match.
FTE_SCORE = -1.0


@dataclass(frozen=True, slots=True)
class Pair:
    fold: int
    a: str  # image path relative to the image root, "Name/Name_0001.jpg"
    b: str
    genuine: bool


def image_name(person: str, number: str) -> str:
    try:
        n = int(number)
    except ValueError:
        raise ManifestError(f"image number {number!r} is not an integer") from None
    return f"{person}/{person}_{n:04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    """Parse ``pairs.txt`` (header ``folds<TAB>n``, then per fold n matched + n mismatched)."""
    try:
        lines = [ln.rstrip("\r\n") for ln in Path(path).read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read pairs file ({exc})") from None
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise ManifestError(f"{path}: empty pairs file")
    head = lines[0].split()
    if len(head) != 2 or not all(h.isdigit() for h in head):
        raise ManifestError(f"{path}: header must be '<folds> <pairs per class>', got {lines[0]!r}")
    folds, per = int(head[0]), int(head[1])
    body = lines[1:]
    if len(body) != folds * 2 * per:
        raise ManifestError(f"{path}: expected {folds * 2 * per} pairs, found {len(body)}")
    pairs = []
    for i, line in enumerate(body):
        fold, within = divmod(i, 2 * per)
        f = line.split("\t")
        genuine = within < per
        if genuine and len(f) == 3:
            pairs.append(Pair(fold, image_name(f[0], f[1]), image_name(f[0], f[2]), True))
        elif not genuine and len(f) == 4:
            pairs.append(Pair(fold, image_name(f[0], f[1]), image_name(f[2], f[3]), False))
        else:
            kind = "matched" if genuine else "mismatched"
            raise ManifestError(f"{path}: line {i + 2} is not a {kind} pair: {line!r}")
    return pairs


def image_root(lfw_dir: Path) -> Path:
    """Where the ``Name/Name_NNNN.jpg`` folders are (deep-funneled layout or plain)."""
    for sub in ("lfw-deepfunneled", "lfw"):
        if (Path(lfw_dir) / sub).is_dir():
            return Path(lfw_dir) / sub
    return Path(lfw_dir)


def limit_pairs(pairs: Sequence[Pair], n: int) -> list[Pair]:
    """A balanced subset of ``n`` pairs spread evenly over the folds (for quick runs)."""
    by_key: dict[tuple[int, bool], list[Pair]] = {}
    for p in pairs:
        by_key.setdefault((p.fold, p.genuine), []).append(p)
    per = max(1, n // (2 * len({p.fold for p in pairs})))
    return [p for key in sorted(by_key) for p in by_key[key][:per]]


@dataclass(frozen=True, slots=True, eq=False)
class PairScores:
    fold: NDArray[np.int64]
    genuine: NDArray[np.bool_]
    raw: dict[str, NDArray[np.float64]]
    fte: NDArray[np.bool_]  # at least one image of the pair had no face


def pair_scores(pairs: Sequence[Pair], emb: Embeddings) -> PairScores:
    idx = emb.index()
    a = np.array([idx[p.a] for p in pairs])
    b = np.array([idx[p.b] for p in pairs])
    fte = (emb.status[a] == STATUS_FTE) | (emb.status[b] == STATUS_FTE)
    raw = {}
    for m, v in emb.vectors.items():
        s = np.einsum("ij,ij->i", v[a].astype(np.float64), v[b].astype(np.float64))
        raw[m] = np.where(fte, FTE_SCORE, s)
    return PairScores(np.array([p.fold for p in pairs]), np.array([p.genuine for p in pairs]),
                      raw, fte)


def person_of(name: str) -> str:
    return name.split("/", 1)[0]


def impostor_scores(emb: Embeddings, rows: NDArray[np.int64]) -> dict[str, NDArray[np.float32]]:
    """Raw cosines of every pair of the given images that show different people.

    Images without a face are left out (their comparisons say nothing about the scores).
    """
    rows = rows[emb.status[rows] != STATUS_FTE]
    people = np.array([person_of(emb.names[i]) for i in rows])
    _, pid = np.unique(people, return_inverse=True)
    upper = np.triu(np.ones((rows.size, rows.size), dtype=bool), k=1)
    upper &= pid[:, None] != pid[None, :]
    out = {}
    for m, v in emb.vectors.items():
        sub = v[rows]
        out[m] = (sub @ sub.T)[upper]
    return out


@dataclass
class MatcherResult:
    name: str
    fold_accuracy: list[float] = field(default_factory=list)
    fold_second: list[float] = field(default_factory=list)  # fraction needing dlib
    large_tar: dict[float, list[float]] = field(default_factory=dict)
    large_count: list[int] = field(default_factory=list)
    test_scores: list[NDArray[np.float64]] = field(default_factory=list)
    test_genuine: list[NDArray[np.bool_]] = field(default_factory=list)

    @property
    def accuracy_mean(self) -> float:
        return float(np.mean(self.fold_accuracy))

    @property
    def accuracy_std(self) -> float:
        return float(np.std(self.fold_accuracy))

    def pooled(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        s = np.concatenate(self.test_scores)
        g = np.concatenate(self.test_genuine)
        return s[g], s[~g]

    def eer(self) -> float:
        return metrics.eer(*self.pooled())[0]

    def view2_tar(self, target: float) -> float | None:
        gen, imp = self.pooled()
        if target < 1.0 / imp.size:
            return None
        return metrics.tar_at_fmr(gen, imp, target)


@dataclass
class ProtocolResult:
    matchers: dict[str, MatcherResult]
    n_pairs: int
    n_fte_pairs: int
    folds: int
    margin: float
    # Median seconds per image measured in the embedding workers: detect, SFace, dlib.
    median_times: tuple[float, float, float] = (0.0, 0.0, 0.0)
    images: int = 0
    images_low_score: int = 0  # face found only below the configured detector threshold
    images_no_face: int = 0

    def cost_per_pair_ms(self, name: str) -> float:
        """Model time to verify one pair from two images (detection + embeddings)."""
        det, sface, dlib = (1000 * t for t in self.median_times)
        second = float(np.mean(self.matchers[name].fold_second))
        per_image = {"sface": det + sface, "dlib": det + dlib,
                     "fusion": det + sface + dlib, "cascade": det + sface + second * dlib}
        return 2 * per_image[name]


def image_folds(pairs: Sequence[Pair], emb: Embeddings) -> NDArray[np.int64]:
    """The fold of each embedded image (-1 if it appears in several folds)."""
    fold = np.full(len(emb.names), -2, dtype=np.int64)
    idx = emb.index()
    for p in pairs:
        for n in (p.a, p.b):
            i = idx[n]
            fold[i] = p.fold if fold[i] in (-2, p.fold) else -1
    return fold


def operating_thresholds(fused_train_gen: NDArray, fused_train_imp: NDArray,
                      large_fused: NDArray | None, band_fmrs: Sequence[float]) -> list[float]:
    """Operating thresholds (calibrated scale) the cascade band must reproduce: the best
    accuracy threshold and the fusion's thresholds at ``band_fmrs``."""
    ts = [metrics.best_accuracy_threshold(fused_train_gen, fused_train_imp)]
    if large_fused is not None:
        ts += [threshold_for_rate(large_fused, f) for f in band_fmrs
               if f >= 1.0 / large_fused.size]
    return ts


def run_protocol(pairs: Sequence[Pair], emb: Embeddings, margin: float = 0.25,
                 large: bool = True, band_fmrs: Sequence[float] = LARGE_FMRS
                 ) -> ProtocolResult:
    scores = pair_scores(pairs, emb)
    img_fold = image_folds(pairs, emb)
    folds = sorted(set(scores.fold.tolist()))
    results = {m: MatcherResult(m) for m in MATCHERS}
    labels = scores.genuine.astype(np.float64)
    for k in folds:
        train, test = scores.fold != k, scores.fold == k
        raw_tr = {m: v[train] for m, v in scores.raw.items()}
        raw_te = {m: v[test] for m, v in scores.raw.items()}
        imp_large = None
        if large:
            imp_large = impostor_scores(emb, np.flatnonzero((img_fold != k) & (img_fold >= 0)))
        fitted = fit_matchers(raw_tr, labels[train])
        f_tr = apply(fitted.fusion.primary, raw_tr)
        big_f = apply(fitted.fusion.primary, imp_large) if imp_large is not None else None
        thresholds = operating_thresholds(f_tr[labels[train] == 1], f_tr[labels[train] == 0], big_f,
                                       band_fmrs)
        fitted = fit_matchers(raw_tr, labels[train], band_thresholds=thresholds, margin=margin)
        if imp_large is not None:
            fitted = widen_band(fitted, imp_large, thresholds, margin)
        for name, matcher in fitted.as_dict().items():
            _evaluate_fold(results[name], matcher, raw_tr, labels[train] == 1, raw_te,
                           scores.genuine[test], imp_large)
    ok = emb.status != STATUS_FTE
    times = np.median(emb.times[ok], axis=0) if ok.any() else np.zeros(3)
    return ProtocolResult(results, len(pairs), int(scores.fte.sum()), len(folds), margin,
                          # Three timings: emb.times is (n, 3).
                          tuple(float(t) for t in times),  # type: ignore[arg-type]
                          len(emb.names),
                          int(np.sum(emb.status == STATUS_RETRY)), int(np.sum(~ok)))


def widen_band(fitted, imp_large: dict, thresholds: list[float], margin: float):
    """Let the band also cover large-impostor pairs whose decision fusion would change."""
    from dataclasses import replace

    from bordermatch.eval.fit import fit_band

    cas = fitted.cascade
    p = apply(cas.primary, imp_large)
    f = apply(cas.fused, imp_large)
    lo, hi = fit_band(p, f, thresholds, margin)
    band = (min(lo, cas.band[0]), max(hi, cas.band[1]))
    return replace(fitted, cascade=Matcher(cas.name, cas.primary, cas.fused, band))


def _evaluate_fold(res: MatcherResult, matcher: Matcher, raw_tr: dict, gen_tr: NDArray,
                   raw_te: dict, gen_te: NDArray, imp_large: dict | None) -> None:
    s_tr, _ = score_pairs(matcher, raw_tr)
    t = metrics.best_accuracy_threshold(s_tr[gen_tr], s_tr[~gen_tr])
    s_te, second = score_pairs(matcher, raw_te)
    res.fold_accuracy.append(metrics.accuracy(s_te[gen_te], s_te[~gen_te], t))
    res.fold_second.append(float(second.mean()))
    res.test_scores.append(s_te)
    res.test_genuine.append(gen_te)
    if imp_large is not None:
        s_big, _ = score_pairs(matcher, imp_large)
        res.large_count.append(int(s_big.size))
        for f in LARGE_FMRS:
            if f >= 1.0 / s_big.size:
                tf = threshold_for_rate(s_big, f)
                res.large_tar.setdefault(f, []).append(1.0 - metrics.fnmr(s_te[gen_te], tf))
