"""Vehicle lanes on the whole gallery against vehicle lanes through the gallery's index.

The path a service with a shared index takes for vehicles (``service.galleries.
ShortlistedLane``: each embedded shot's top ``k`` references from the index, every
reference of their travellers and of the travellers whose documents were read re-scored
exactly, the document scores normalised by a cohort drawn from the whole gallery) against
the whole-gallery lane (``match.cohort.WholeGallery``), on a simulated lane set
(``bordermatch lane simulate``, ``bordermatch gallery build``) at the bundled operating
points. Each event is observed once (decoding, detection, tracking, embedding: the same
for both) and then decided both ways, alternating, so both see the same machine load;
the decision is timed from the tracks to the occupants (the first vehicle's decision,
which builds the cohort, is the "first" column). "differ": occupants whose
decision (traveller, outcome, reason, source, runner-up, score, threshold) is not the
same on both paths; "matches lost" / "gained": travellers matched on the whole gallery
and not through the index, and the reverse. The first event is decided
untimed: it builds each side's cohort (the whole side's Z-norm stats over every traveller,
the shortlisted side's cohort templates), once per gallery revision.

``--pad N`` adds N synthetic travellers (random unit vectors of SFace's dimension, one
reference each) to both sides: far from any face, they change no decision and show how
each path's cost grows with the gallery. Backends as in ``gate_candidates.py``: ``flat``
and ``faiss`` (IVF-PQ, trained from 20,000 references) in process, ``milvus`` a Milvus
Lite collection with templates read from an encrypted blob store.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/lane_candidates.py \
        RUN/events RUN/gallery.npz --backends flat faiss milvus --k 50 --pad 0 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bordermatch.lane.events import event_folders
from bordermatch.lane.pipeline import LanePipeline
from bordermatch.lane.runner import build_pipeline, load_event
from bordermatch.match.cohort import WholeGallery
from bordermatch.match.search import GallerySearch
from bordermatch.types import Occupant, Outcome

sys.path.insert(0, str(Path(__file__).parent))
from _timing import machine_line
from gate_candidates import DIM, build, unit


def key(o: Occupant) -> tuple:
    d = o.detail
    r = (lambda x: None if x is None else round(x, 3))  # noqa: E731
    return (o.track_id, o.traveler_id, o.decision, o.reason, o.source, o.runner_up_id,
            r(o.score), r(None if d is None else d.threshold))


def like(base: LanePipeline, gallery) -> LanePipeline:
    return LanePipeline(base.detector, base.embedder, base.assessor, gallery, base.point,
                        base.scale, base.config, aliases=base.aliases,
                        documents=base.documents, document_point=base.document_point)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("events", type=Path)
    ap.add_argument("gallery", type=Path)
    ap.add_argument("--backends", nargs="+", default=["flat", "faiss", "milvus"])
    ap.add_argument("--k", type=int, nargs="+", default=[50])
    ap.add_argument("--pad", type=int, nargs="+", default=[0])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="print each occupant decided differently, both ways")
    args = ap.parse_args()

    base = build_pipeline(args.gallery)
    observed = []
    t0 = time.perf_counter()
    for folder in event_folders(args.events)[:args.limit]:
        event, frames = load_event(folder, base)
        observed.append((event, base.observe(event, frames)))
    observe_s = time.perf_counter() - t0
    real = base.search
    print(machine_line(f"numpy {np.__version__}",
                       "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())))
    print(f"# {len(observed)} vehicles observed in {observe_s:.0f} s; gallery "
          f"{len(real)} travellers, {len(real.vectors)} references; document point on "
          f"{base.document_norm or 'raw'} scores")
    print("| pad | backend | k | build s | whole first ms | p50 | p95 | shortlist first ms | "
          "p50 | p95 | columns mean | occupants | differ | vehicles differ | matches lost | "
          "gained |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(args.seed)
    for pad in args.pad:
        owners = list(np.repeat(np.asarray(real.ids, dtype=object), real.references))
        owners += [f"PAD{i:07d}" for i in range(pad)]
        vectors = np.concatenate([real.vectors,
                                  unit(rng.standard_normal((pad, DIM)).astype(np.float32))])
        ids = [f"e{i:07d}" for i in range(len(vectors))]
        whole = like(base, WholeGallery(GallerySearch(owners, vectors)))
        for backend in args.backends:
            with tempfile.TemporaryDirectory() as tmp:
                stored, built = build(backend, ids, vectors, dict(zip(ids, owners,
                                                                      strict=True)), Path(tmp))
                stored.documents = dict(base.documents)
                for k in args.k:
                    row = run(whole, like(base, stored.lane(k)), observed, args.verbose)
                    print(f"| {pad} | {backend} | {k} | {built:.1f} | {row}")


def run(whole: LanePipeline, short: LanePipeline, observed, verbose: bool = False) -> str:
    t_whole, t_short, columns, first = [], [], [], (0.0, 0.0)
    occupants = differ = vehicles_differ = lost = gained = 0
    for n, (event, obs) in enumerate(observed):
        t = time.perf_counter()
        a, _ = whole.decide(obs.tracks, obs.seats, event.documents)
        tw = time.perf_counter() - t
        t = time.perf_counter()
        b, _ = short.decide(obs.tracks, obs.seats, event.documents)
        ts = time.perf_counter() - t
        if n:  # the first builds both cohorts
            t_whole.append(tw * 1e3)
            t_short.append(ts * 1e3)
        else:
            first = (tw * 1e3, ts * 1e3)
        captured = [tr for tr in obs.tracks
                    if tr.best_quality >= short.config.min_capture_quality]
        claimed = {short.documents[d.key] for d in event.documents if d.key in short.documents}
        columns.append(len(short.columns(captured, claimed)))
        occupants += len(a)
        bad = sum(key(x) != key(y) for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        differ += bad
        if verbose:
            for x, y in zip(a, b, strict=False):
                if key(x) != key(y):
                    print(f"#   {event.event_id}: whole {key(x)}\n#   {' ' * len(event.event_id)}"
                          f"  index {key(y)}")
        vehicles_differ += bad > 0
        matched = [{o.traveler_id for o in side if o.decision is Outcome.MATCH}
                   for side in (a, b)]
        lost += len(matched[0] - matched[1])
        gained += len(matched[1] - matched[0])
    p = lambda xs, q: f"{np.percentile(xs, q):.1f}" if xs else "-"  # noqa: E731
    return (f"{first[0]:.0f} | {p(t_whole, 50)} | {p(t_whole, 95)} | {first[1]:.0f} | "
            f"{p(t_short, 50)} | {p(t_short, 95)} | "
            f"{np.mean(columns):.0f} | {occupants} | {differ} | {vehicles_differ} | {lost} | "
            f"{gained} |")


if __name__ == "__main__":
    main()
