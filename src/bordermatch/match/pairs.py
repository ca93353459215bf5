"""Batch 1:1 verification: each image is decoded and embedded once, however often it appears.

Two passes keep memory flat: the first computes the first-stage templates of every distinct
image; the second reloads only the images that take part in a pair the cascade finds
uncertain and adds the second recognizer's template. Output keeps input order, and a bad
line or image becomes that line's ``error`` rather than aborting the batch.

Each image's subject is chosen by ``gallery.enrol``'s rule; every row says, per side,
whether the photo was ambiguous (another face of similar size near the centre), how many
faces the choice was made among, and whether the detector had to retry at a lower score.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bordermatch.errors import BordermatchError, ManifestError
from bordermatch.io.images import load_image
from bordermatch.match.decide import decide
from bordermatch.match.engine import FaceEngine, SubjectSample
from bordermatch.types import FaceSample


class PairVerifier:
    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self._samples: dict[str, SubjectSample | BordermatchError] = {}

    def _sample(self, path: str, models: tuple[str, ...]) -> SubjectSample | BordermatchError:
        cached = self._samples.get(path)
        if isinstance(cached, BordermatchError):
            return cached
        try:
            if cached is None:
                image = load_image(path, None)
                cached = self.engine.subject_sample(image, models)
            else:
                have = {t.model for t in cached.sample.templates}
                if not set(models) <= have:
                    image = load_image(path, None)
                    cached = SubjectSample(
                        self.engine.add_templates(image, cached.sample, models), cached.choice)
        except BordermatchError as exc:
            cached = exc
        self._samples[path] = cached
        return cached

    def verify_pair(self, a: str, b: str, details: bool = False) -> dict[str, Any]:
        first = self.engine.matcher.first_models
        sa, sb = self._sample(a, first), self._sample(b, first)
        if not isinstance(sa, BordermatchError) and not isinstance(sb, BordermatchError) \
                and self.engine.matcher.needs_second(self.engine.raw_scores(sa.sample,
                                                                            sb.sample)):
            both = first + self.engine.matcher.second_models
            sa, sb = self._sample(a, both), self._sample(b, both)
        return self._row(a, b, sa, sb, details)

    def _row(self, a: str, b: str, sa: SubjectSample | BordermatchError,
             sb: SubjectSample | BordermatchError, details: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"a": a, "b": b, "score": None, "decision": None, "error": None}
        # ``side`` says which image failed.
        if isinstance(sa, BordermatchError):
            row.update(error=sa.code, detail=str(sa), side="a")
            return row
        if isinstance(sb, BordermatchError):
            row.update(error=sb.code, detail=str(sb), side="b")
            return row
        comparison = self.engine.compare(sa.sample, sb.sample)
        decision = decide(comparison.fused, self.engine.point)
        row.update(score=round(comparison.fused, 6), decision=decision.outcome.value,
                   reason=decision.reason.value,
                   threshold=round(decision.threshold, 6), target_fmr=decision.target,
                   matcher=self.engine.matcher.name,
                   raw_scores={m: round(v, 6) for m, v in comparison.scores},
                   ambiguous={"a": sa.choice.ambiguous, "b": sb.choice.ambiguous},
                   faces={"a": sa.choice.n_faces, "b": sb.choice.n_faces},
                   retried={"a": sa.choice.retried, "b": sb.choice.retried})
        if details:
            row["quality"] = {"a": _quality(sa.sample), "b": _quality(sb.sample)}
        return row

    def run_file(self, pairs_file: Path, progress: bool = False) -> Iterator[dict[str, Any]]:
        pairs = read_pairs(pairs_file)
        paths = list(dict.fromkeys(p for pair in pairs if pair for p in pair))
        first = self.engine.matcher.first_models
        for path in tqdm(paths, desc="embedding", unit="img", disable=not progress or None,
                         leave=False):
            self._sample(path, first)
        for i, pair in enumerate(pairs, start=1):
            if pair is None:
                yield {"a": None, "b": None, "score": None, "decision": None,
                       "error": "bad_line", "detail": f"{pairs_file}:{i}: expected pathA<TAB>pathB"}
                continue
            yield self.verify_pair(*pair)


def read_pairs(path: Path) -> list[tuple[str, str] | None]:
    """One (a, b) per non-empty line; None marks a malformed line (reported, not fatal).

    Lines are decoded one by one, so a single line that is not UTF-8 becomes that line's
    ``bad_line`` instead of refusing the whole file.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read pairs file ({exc.strerror})") from None
    rows: list[tuple[str, str] | None] = []
    for raw in data.splitlines():
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            rows.append(None)
            continue
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        rows.append((parts[0], parts[1]) if len(parts) == 2 and all(parts) else None)
    return rows


def _quality(sample: FaceSample) -> dict[str, float]:
    q = sample.quality
    return {k: round(float(getattr(q, k)), 3) for k in q.__slots__}
