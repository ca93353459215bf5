"""The columns a vehicle is decided on, and the cohort its document scores are normalised by.

A lane decides each vehicle on some columns of the gallery: every traveller when the
gallery is in memory (:class:`WholeGallery`), or, with a shared 1:N index, the travellers
the index shortlists for the vehicle's shots plus those whose documents were read
(``service.galleries``). The decision reads only a row's best columns: one per track (the
one-to-one assignment) and per traveller read (the look-alike guard), then the runner-up
and the no-match score. With max-score (or best-shot) search fusion a traveller a track
ranks r-th is among the r best of the shot that gives its score, so a shortlist that
names each shot's best ``tracks + reads + 2`` travellers gives the whole gallery's
decision whenever the index finds them; a lane on a shortlist refuses the fusions that
average shots. Columns keep the whole gallery's order, so ties break alike.

Score normalisation (``match.normalise``) needs more than those columns: a yardstick of
non-mated scores from the *whole* gallery. :class:`Cohort` is that yardstick, drawn from
the gallery by one rule whichever way it is held, so a shortlisted lane normalises exactly
as a whole-gallery one:

* T-norm: a probe's scores against up to :data:`COHORT_TRAVELLERS` travellers drawn
  evenly from the gallery in id order, with all their references (every traveller of a
  gallery that small: the probe's own row, as measured and calibrated);
* Z-norm: each traveller's scores against up to ``COHORT_REFERENCES`` reference photos
  drawn evenly from the gallery's rows, travellers in id order (each's references as
  enrolled), less their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from bordermatch.match.normalise import COHORT_REFERENCES
from bordermatch.match.search import GallerySearch

R = TypeVar("R")

# Travellers a probe is T-normalised against: all of a gallery this size (the development
# galleries the document point was calibrated on hold about 2,000), a fixed, even sample
# of a larger one, so a gallery of millions costs a lane no more than one of thousands.
COHORT_TRAVELLERS = 4000


def evenly(n: int, size: int) -> NDArray[np.int64]:
    """Up to ``size`` indices of ``range(n)``, evenly spaced, first and last included."""
    if n <= 0 or size <= 0:
        return np.zeros(0, np.int64)
    return np.unique(np.linspace(0, n - 1, min(n, size)).round().astype(np.int64))


class Cohort:
    """A gallery's normalisation cohort (see the module docstring). ``whole``, when given,
    is the gallery the cohort was drawn from: its Z-norm stats are kept, as every vehicle
    of a whole-gallery lane asks for them."""

    def __init__(self, rows: GallerySearch, references: NDArray[np.float32],
                 owners: Sequence[str], whole: GallerySearch | None = None) -> None:
        if len(references) != len(owners):
            raise ValueError("cohort references and owners disagree in length")
        self.rows = rows
        self.references = np.ascontiguousarray(references, dtype=np.float32)
        self.owners = np.asarray([str(o) for o in owners], dtype=object)
        self._whole = whole
        self._whole_stats: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None

    @classmethod
    def of(cls, search: GallerySearch) -> Cohort:
        """The cohort of a gallery held in memory (:func:`draw` over its rows)."""
        owners = np.repeat(np.asarray(search.ids, dtype=object), search.references)
        starts = np.r_[0, np.cumsum(search.references)]
        keep, drawn = draw({t: range(starts[j], starts[j + 1])
                            for j, t in enumerate(search.ids)})
        rows = search  # every traveller drawn: the probe's own row is the T-norm cohort
        if len(keep) < len(search.vectors):
            rows = GallerySearch(list(owners[keep]), search.vectors[keep])
        return cls(rows, search.vectors[drawn], list(owners[drawn]), whole=search)

    def __len__(self) -> int:
        """Travellers in the T-norm cohort."""
        return len(self.rows)

    def column_stats(self, columns: GallerySearch,
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each column traveller's mean and spread of cosines (best reference) against the
        cohort's reference photos that are not theirs: the Z-norm of ``match.normalise``."""
        if columns is self._whole and self._whole_stats is not None:
            return self._whole_stats
        index = {t: j for j, t in enumerate(columns.ids)}
        owner = np.asarray([index.get(o, -1) for o in self.owners], dtype=np.int64)
        total = np.zeros(len(columns))
        squares = np.zeros(len(columns))
        # Blocks of about 16M scores: a column set of millions stays within memory.
        step = max(1, 2**24 // max(len(columns), 1))
        for start in range(0, len(self.references), step):
            block = columns.scores(self.references[start:start + step]).astype(np.float64)
            own = owner[start:start + step]
            mine = np.flatnonzero(own >= 0)
            block[mine, own[mine]] = 0.0  # a photo is no cohort for its own owner
            total += block.sum(0)
            squares += (block * block).sum(0)
        count = len(self.references) - np.bincount(owner[owner >= 0], minlength=len(columns))
        count = np.maximum(count, 1)
        mean = total / count
        spread = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
        if columns is self._whole:
            self._whole_stats = (mean, spread)
        return mean, spread


def draw(references: Mapping[str, Sequence[R]]) -> tuple[list[R], list[R]]:
    """The one cohort rule, over each traveller's references (as held): the T-norm rows,
    every reference of up to :data:`COHORT_TRAVELLERS` travellers drawn evenly in id order,
    and the Z-norm photos, up to ``COHORT_REFERENCES`` drawn evenly from all references,
    travellers in id order."""
    by_id = sorted(references)
    picked = [by_id[i] for i in evenly(len(by_id), COHORT_TRAVELLERS)]
    grouped = [r for t in by_id for r in references[t]]
    return ([r for t in picked for r in references[t]],
            [grouped[i] for i in evenly(len(grouped), COHORT_REFERENCES)])


class LaneGallery(Protocol):
    """What a vehicle lane decides against (``lane.pipeline.LanePipeline``)."""

    def __len__(self) -> int:
        """Travellers in the whole gallery (whether a normalised point is usable)."""
        ...

    @property
    def search(self) -> GallerySearch:
        """The exact search over every reference (calibration and evaluation)."""
        ...

    def columns(self, queries: NDArray[np.float32], claimed: Collection[str],
                rank: int) -> GallerySearch:
        """The travellers one vehicle is decided on: at least each shot's ``rank`` best
        travellers (``queries``, one row per embedded shot; ``rank``: as deep as the decision
        may read a row) and every ``claimed`` traveller held."""
        ...

    def cohort(self) -> Cohort: ...


class WholeGallery:
    """A gallery held in memory: every vehicle is decided on every traveller."""

    def __init__(self, search: GallerySearch) -> None:
        self._search = search
        self._cohort: Cohort | None = None

    def __len__(self) -> int:
        return len(self._search)

    @property
    def search(self) -> GallerySearch:
        return self._search

    def columns(self, queries: NDArray[np.float32], claimed: Collection[str],
                rank: int) -> GallerySearch:
        return self._search

    def cohort(self) -> Cohort:
        if self._cohort is None:  # the Z-norm stats of every traveller: once per gallery
            self._cohort = Cohort.of(self._search)
        return self._cohort
