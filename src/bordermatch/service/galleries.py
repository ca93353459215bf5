"""A gallery's stored templates as one process holds them, and the shortlists gates and vehicle
lanes decide on.

With a shared index, gate and boarding decisions (``service.gate.search_faces``) and
vehicle lanes (``service.vehicle``, through :class:`ShortlistedLane`) go through it (the
in-process backends hold every template and decide on the exact search): the index names
the top ``search_candidates`` references of each face (of a vehicle: of each shot its
fusions read), every reference of the travellers they belong to is re-scored exactly
from its template (an ANN index's own scores may be approximate: IVF-PQ codes, an HNSW
walk), each traveller keeps the best of their references, and the one decision rule
(``match.decide``) decides on those columns. Its assignment, runner-up and no-match score
only ever read the best columns of a row, so the decision equals the one on the whole
gallery whenever each face's true rank-1 and runner-up are among its candidates (and, in
a photo or vehicle of several faces, every traveller a face scores at or above the review
floor, whom the one-to-one assignment may give it): tests/api/test_api_gate_candidates.py
and tests/api/test_api_vehicle_candidates.py. A missed runner-up above the floor could
turn a review into a match, so an ANN index must find the look-alikes at the decision
cosines, not only the mate (docs/benchmarks.md, "Gate decisions through the index"). A
vehicle's columns also hold every traveller whose document was read, and its document
scores are normalised by a cohort drawn from the whole gallery by the same rule as an
in-memory one (``match.cohort``), read once per revision.

Only references of this revision's enrolled templates (``StoredGallery.owners``) can be
candidates: an id a shared index still holds after an opt-out or purge, or already holds
before this process has read the enrolment, is dropped, and a template whose blob is gone
is left out. The exact search over every row (``GallerySearch``) is built on first use
only (calibration, in-process backends); with a shared index a serving process never
loads the gallery's templates, it reads the candidates' and the cohort's from the blob
store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from bordermatch.errors import BlobIntegrityError, BlobNotFoundError, ConfigError
from bordermatch.match.cohort import Cohort, LaneGallery, WholeGallery, draw
from bordermatch.match.search import GallerySearch
from bordermatch.protocols import Index
from bordermatch.store.blobs import BlobStore

log = logging.getLogger(__name__)

# The deepest a shortlist search goes when a face's candidates name fewer than two known
# travellers (one traveller's many references, or ids this revision does not hold); Milvus
# caps a search at 16384.
MAX_DEPTH = 4096


class SizedIndex(Index, Protocol):
    """What the service needs of the configured index backend: every backend has a size."""

    def __len__(self) -> int: ...


class Templates(Protocol):
    """Where a gallery's templates are read from, by enrolment id."""

    def vectors(self, enrolment_ids: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        """The ids whose template is still stored, in the given order, and their rows."""
        ...

    def all(self) -> tuple[list[str], NDArray[np.float32]]: ...


class LoadedTemplates:
    """Every template in memory: what an in-process index is built from anyway."""

    def __init__(self, enrolment_ids: Sequence[str], matrix: NDArray[np.float32]) -> None:
        self.ids = list(enrolment_ids)
        self.matrix = matrix
        self._row = {e: i for i, e in enumerate(self.ids)}

    @classmethod
    def read(cls, rows: Sequence[tuple[str, str, str]], blobs: BlobStore,
             dim: int) -> LoadedTemplates:
        """Load (enrolment id, traveller, blob) rows; a missing blob raises, as before."""
        matrix = np.zeros((0, dim), np.float32)
        if rows:
            matrix = np.stack([_vector(blobs.get(b, kind="template"), dim, b)
                               for _, _, b in rows])
        return cls([e for e, _, _ in rows], matrix)

    def vectors(self, enrolment_ids: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        found = [e for e in enrolment_ids if e in self._row]
        return found, self.matrix[[self._row[e] for e in found]]

    def all(self) -> tuple[list[str], NDArray[np.float32]]:
        return self.ids, self.matrix


class BlobTemplates:
    """Templates read from the blob store when asked (a shared index: nothing preloaded).

    A blob deleted since the revision was read (a purge or opt-out racing this request)
    is left out: that reference must not match. It is logged, because a blob missing
    while its enrolment still names it would be a damaged store.
    """

    def __init__(self, blob_of: dict[str, str], blobs: BlobStore, dim: int) -> None:
        self._blob_of = blob_of
        self._blobs = blobs
        self._dim = dim

    def vectors(self, enrolment_ids: Sequence[str]) -> tuple[list[str], NDArray[np.float32]]:
        found: list[str] = []
        rows: list[NDArray[np.float32]] = []
        for e in enrolment_ids:
            blob = self._blob_of.get(e)
            if blob is None:
                continue
            try:
                data = self._blobs.get(blob, kind="template")
            except BlobNotFoundError:
                log.warning("template blob %s of enrolment %s is gone; left out", blob, e)
                continue
            found.append(e)
            rows.append(_vector(data, self._dim, blob))
        return found, (np.stack(rows) if rows else np.zeros((0, self._dim), np.float32))

    def all(self) -> tuple[list[str], NDArray[np.float32]]:
        return self.vectors(list(self._blob_of))


def _vector(data: bytes, dim: int, blob: str) -> NDArray[np.float32]:
    if len(data) != 4 * dim:
        raise BlobIntegrityError(f"template blob {blob} holds {len(data)} bytes, not a "
                                 f"float32 template of dim {dim}")
    return np.frombuffer(data, np.float32)


@dataclass(frozen=True, slots=True)
class Shortlist:
    """Exact cosines of each face (row) against its encounter's candidate travellers."""

    traveler_ids: tuple[str, ...]  # column order: sorted, as GallerySearch orders travellers
    scores: NDArray[np.float32]  # (faces, travellers): the best reference of each
    depth: int  # references asked of the index per face


class StoredGallery:
    """A gallery at one revision: its configured index (keyed by enrolment id), where its
    templates are read, who owns each reference and whose documents it holds."""

    def __init__(self, index: SizedIndex, owners: dict[str, str],
                 documents: dict[tuple[str, str], str], templates: Templates) -> None:
        self.index = index
        self.owners = owners  # enrolment id -> traveller
        self.documents = documents  # (document_number, nationality) -> traveller
        self.templates = templates
        grouped: dict[str, list[str]] = {}
        for e, t in owners.items():
            grouped.setdefault(t, []).append(e)
        self.references = {t: tuple(es) for t, es in grouped.items()}
        self._search: GallerySearch | None = None
        self._whole: WholeGallery | None = None
        self._cohort: Cohort | None = None
        self._column: dict[str, int] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Travellers with an enrolled template."""
        return len(self.references)

    @property
    def search(self) -> GallerySearch:
        """The exact search over every reference (the vehicle lane), built on first use."""
        with self._lock:
            if self._search is None:
                ids, vectors = self.templates.all()
                self._search = GallerySearch([self.owners[e] for e in ids], vectors)
            return self._search

    @property
    def search_loaded(self) -> bool:
        return self._search is not None

    def lane(self, candidates: int | None) -> LaneGallery:
        """What a vehicle lane decides against: every traveller (``candidates`` None: an
        in-process index, whose templates are all in memory anyway), or each vehicle's
        shortlist from the shared index, ``candidates`` references per shot."""
        if candidates is not None:
            return ShortlistedLane(self, candidates)
        search = self.search
        with self._lock:  # one per revision: it keeps the Z-norm stats of every traveller
            if self._whole is None:
                self._whole = WholeGallery(search)
            return self._whole

    def cohort(self) -> Cohort:
        """The normalisation cohort, drawn by the rule ``Cohort.of`` draws by
        (``match.cohort.draw``) from the stored templates (only those read: a shortlisted
        lane loads no more of the gallery)."""
        with self._lock:
            if self._cohort is None:
                row_ids, drawn = draw(self.references)
                # One read of each template: in a gallery of up to 4,000 travellers every
                # drawn photo is a T-norm row too.
                found, vectors = self.templates.vectors(list(dict.fromkeys(row_ids + drawn)))
                at = {e: i for i, e in enumerate(found)}
                rows = [e for e in row_ids if e in at]
                refs = [e for e in drawn if e in at]
                self._cohort = Cohort(
                    GallerySearch([self.owners[e] for e in rows], vectors[[at[e] for e in rows]]),
                    vectors[[at[e] for e in refs]], [self.owners[e] for e in refs])
            return self._cohort

    def in_column_order(self, travellers: Collection[str]) -> list[str]:
        """``travellers`` in the order the whole gallery's search holds its columns
        (``GallerySearch``: by id when some traveller has several references, else as
        enrolled), so that a tie between two columns (one photo under two identities)
        breaks the same way on a shortlist as on the whole gallery."""
        if self._column is None:
            order = (sorted(self.references)
                     if any(len(r) > 1 for r in self.references.values())
                     else list(self.references))
            self._column = {t: i for i, t in enumerate(order)}
        return sorted(travellers, key=self._column.__getitem__)

    def gallery_of(self, enrolment_ids: Sequence[str]) -> GallerySearch:
        found, vectors = self.templates.vectors(enrolment_ids)
        return GallerySearch([self.owners[e] for e in found], vectors)

    def candidates(self, queries: NDArray[np.float32], k: int, rank: int = 2,
                   ) -> tuple[list[set[str]], int]:
        """The travellers each query's top ``k`` references belong to, deeper until each
        names at least ``rank`` travellers (a gate face: rank 1 and the runner-up), and the
        depth asked."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if k < 1:
            raise ConfigError(f"search_candidates must be positive, got {k}")
        if not self.owners or not len(q):
            return [set() for _ in q], 0
        want = min(rank, len(self.references))
        depth = k
        while True:
            _, hits = self.index.search(q, depth)
            named = [{self.owners[e] for e in row if e in self.owners} for row in hits]
            # A full row naming too few travellers: the index holds more; look deeper.
            short = any(len(t) < want and len(row) >= depth
                        for t, row in zip(named, hits, strict=True))
            if not short or depth >= MAX_DEPTH:
                return named, depth
            depth = min(depth * 4, MAX_DEPTH)

    def shortlist(self, queries: NDArray[np.float32], k: int) -> Shortlist:
        """Each face's top ``k`` references from the index, re-scored exactly with every
        reference of their travellers; columns are the union over the faces, so the
        one-to-one assignment sees every traveller any face was close to."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        # A photo of n faces is assigned one traveller per face: each row may be read n
        # deep before its runner-up.
        named, depth = self.candidates(q, k, len(q) + 1)
        travellers = self.in_column_order(set().union(*named))
        found, vectors = self.templates.vectors(
            [e for t in travellers for e in self.references[t]])
        if not found:
            return Shortlist((), np.zeros((len(q), 0), np.float32), depth)
        owner = np.asarray([self.owners[e] for e in found], dtype=object)
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        per_reference = q @ vectors.T
        scores = (per_reference if len(starts) == len(found)
                  else np.maximum.reduceat(per_reference, starts, axis=1))
        return Shortlist(tuple(str(owner[s]) for s in starts),
                         np.ascontiguousarray(scores, dtype=np.float32), depth)


class ShortlistedLane:
    """A vehicle lane on the shared index (``match.cohort.LaneGallery``): each vehicle is
    decided on the travellers its shots' top ``k`` references belong to, plus those whose
    documents were read, every reference re-scored exactly from its template."""

    def __init__(self, stored: StoredGallery, k: int) -> None:
        self._stored = stored
        self._k = k

    def __len__(self) -> int:
        return len(self._stored)

    @property
    def search(self) -> GallerySearch:
        return self._stored.search

    def cohort(self) -> Cohort:
        return self._stored.cohort()

    def columns(self, queries: NDArray[np.float32], claimed: Collection[str],
                rank: int) -> GallerySearch:
        stored = self._stored
        named, _ = stored.candidates(queries, self._k, rank)
        held = {t for t in claimed if t in stored.references}
        travellers = stored.in_column_order(held.union(*named))
        return stored.gallery_of([e for t in travellers for e in stored.references[t]])
