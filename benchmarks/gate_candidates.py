"""Gate decisions on the whole gallery against decisions through the gallery's index.

The path gates now take (``service.galleries.StoredGallery.shortlist``: the index's top
``k`` references per face, every reference of their travellers re-scored exactly, then
``match.decide.identify``) against the one they took before (``GallerySearch`` scores of
every traveller, then ``identify``), in the same process, on the same gallery and the
same one-face photos, at the service's bundled SFace 1:N operating point. Timed per photo
from the face's template to its decision (detection and embedding are the same for both
and left out), the two paths alternating photo by photo.

The gallery is random unit vectors of SFace's dimension (128; no cluster structure, the
hard case for an ANN index), ``--templates`` references over travellers holding one to
three each (every fifth has three, at cosine 0.75 to one another). Photos: ``--mated``
faces at a cosine spread across the review and match thresholds from a reference (and a
few well above), and ``--strangers`` random faces. Agreement: the fraction of photos
whose decision (traveller, outcome, reason, runner-up) is the same on both paths; "rank-1
found": the whole gallery's best traveller is among the candidates; "decisive found": so
is the runner-up, or it is below the review floor (where it cannot change a decision);
"differ where found": photos decisive-found whose decisions still differ (0 by design);
"matches lost" / "gained": photos the whole gallery matches and the candidates do not, and
the reverse (a missed runner-up above the review floor would turn a review into a match).

Backends: ``flat`` and ``faiss`` (IVF-PQ, trained: 20,000 templates reach its
``min_train``) in process, templates in memory; ``milvus``: an embedded Milvus Lite
collection (a path), candidates' templates read from a real encrypted blob store, as a
process with a shared index does.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/gate_candidates.py \
        --templates 20000 --mated 300 --strangers 100 --k 10 50 200

One thread each (FAISS's OpenMP and numpy's BLAS), as one gate request is served; with
both at their defaults on 2 cores, FAISS's idle OpenMP threads spin against numpy's and
the full-row timings after an IVF-PQ search jumped from 0.4 to 8 ms.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bordermatch.lane.runner import load_operating_point
from bordermatch.match.decide import Identification, identify
from bordermatch.match.fusion import load_matcher
from bordermatch.service.galleries import BlobTemplates, LoadedTemplates, StoredGallery
from bordermatch.types import Outcome

DIM = 128
MODEL = "sface"


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def near(v: np.ndarray, cos: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Rows at exactly cosine ``cos`` from the unit rows ``v``."""
    v = np.atleast_2d(v)
    noise = rng.standard_normal(v.shape).astype(np.float32)
    noise = unit(noise - (noise * v).sum(1, keepdims=True) * v)
    c = np.broadcast_to(np.asarray(cos, np.float32).reshape(-1, 1), (len(v), 1))
    return unit(c * v + np.sqrt(1 - c * c) * noise)


def gallery(n: int, rng: np.random.Generator) -> tuple[list[str], list[str], np.ndarray]:
    """(enrolment ids, owners, vectors) of ``n`` references."""
    ids, owners, rows = [], [], []
    t = 0
    while len(rows) < n:
        base = unit(rng.standard_normal(DIM).astype(np.float32))
        refs = [base] if t % 5 != 4 else [base, *near(np.stack([base, base]), 0.75, rng)]
        for j, v in enumerate(refs[: n - len(rows)]):
            ids.append(f"e{t:06d}-{j}")
            owners.append(f"T{t:06d}")
            rows.append(v)
        t += 1
    return ids, owners, np.stack(rows)


def same(a: Identification, b: Identification) -> bool:
    return (a.traveler_id, a.decision.outcome, a.decision.reason, a.runner_up_id) == \
        (b.traveler_id, b.decision.outcome, b.decision.reason, b.runner_up_id)


def build(backend: str, ids: list[str], vectors: np.ndarray, owners: dict[str, str],
          workdir: Path) -> tuple[StoredGallery, float]:
    t0 = time.perf_counter()
    if backend == "milvus":
        from bordermatch.index.milvus import MilvusIndex
        from bordermatch.store.blobs import BlobStore, KeyRing

        blobs = BlobStore(workdir / "blobs",
                          KeyRing({"bench": KeyRing.generate_key()}, "bench"))
        blob_of = {e: blobs.put(v.tobytes(), kind="template")
                   for e, v in zip(ids, vectors, strict=True)}
        index = MilvusIndex(DIM, uri=str(workdir / "milvus.db"), collection="bench")
        index.add(ids, vectors)
        index.flush()
        stored = StoredGallery(index, owners, {}, BlobTemplates(blob_of, blobs, DIM))
    else:
        from bordermatch import registry

        index = registry.create("index", backend, dim=DIM)
        index.add(ids, vectors)
        stored = StoredGallery(index, owners, {}, LoadedTemplates(ids, vectors))
    return stored, time.perf_counter() - t0


def run(backend: str, stored: StoredGallery, photos: np.ndarray, k: int) -> dict:
    point = load_operating_point(MODEL)
    scale = load_matcher(MODEL).primary
    search = stored.search  # built once, outside the timing (the gallery's revision)

    def full(q: np.ndarray) -> Identification:
        return identify(scale.of_cosine(search.scores(q)), search.ids, point)[0]

    def shortlisted(q: np.ndarray) -> tuple[Identification, tuple[str, ...]]:
        short = stored.shortlist(q, k)
        return identify(scale.of_cosine(short.scores), short.traveler_ids, point)[0], \
            short.traveler_ids

    for q in photos[:5]:  # warm-up (BLAS, the index, the blob store's page cache)
        full(q[None, :])
        shortlisted(q[None, :])
    t_full, t_short = [], []
    agree = rank1 = decisive = decisive_differ = lost = gained = matches = 0
    for q in photos:  # alternate, so both paths see the same load on a shared machine
        q = q[None, :]
        t = time.perf_counter()
        a = full(q)
        t_full.append(time.perf_counter() - t)
        t = time.perf_counter()
        b, columns = shortlisted(q)
        t_short.append(time.perf_counter() - t)
        agree += same(a, b)
        matches += a.decision.outcome is Outcome.MATCH
        lost += a.decision.outcome is Outcome.MATCH and b.decision.outcome is not Outcome.MATCH
        gained += b.decision.outcome is Outcome.MATCH and a.decision.outcome is not Outcome.MATCH
        row = search.scores(q)[0]
        first, second = (search.ids[j] for j in np.argsort(-row)[:2])
        has_first = first in columns
        rank1 += has_first
        # The runner-up changes a decision only from the review floor up (match.decide).
        runner_matters = float(scale.of_cosine(np.sort(row)[-2])) >= point.floor
        if has_first and (second in columns or not runner_matters):
            decisive += 1
            decisive_differ += not same(a, b)
    ms = lambda xs, p: round(float(np.percentile(np.asarray(xs) * 1e3, p)), 2)  # noqa: E731
    return {"backend": backend, "k": k, "photos": len(photos),
            "full_p50": ms(t_full, 50), "full_p95": ms(t_full, 95),
            "cand_p50": ms(t_short, 50), "cand_p95": ms(t_short, 95),
            "agree": agree / len(photos), "rank1": rank1 / len(photos),
            "decisive": decisive / len(photos), "decisive_differ": decisive_differ,
            "lost": lost, "gained": gained, "matches": matches}


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _timing import machine_line

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--templates", type=int, default=20_000)
    ap.add_argument("--mated", type=int, default=300)
    ap.add_argument("--strangers", type=int, default=100)
    ap.add_argument("--k", type=int, nargs="+", default=[50])
    ap.add_argument("--backends", nargs="+", default=["flat", "faiss", "milvus"])
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    if args.templates < 2 or args.mated < 0 or args.strangers < 0 or \
            args.mated + args.strangers < 1:
        ap.error("need at least 2 templates and one photo")

    rng = np.random.default_rng(args.seed)
    ids, owner_list, vectors = gallery(args.templates, rng)
    owners = dict(zip(ids, owner_list, strict=True))
    scale, point = load_matcher(MODEL).primary, load_operating_point(MODEL)
    lo, hi = scale.cosine_at(point.floor), scale.cosine_at(point.match)
    cos = np.r_[np.linspace(lo - 0.06, hi + 0.06, max(1, args.mated - args.mated // 5)),
                rng.uniform(0.6, 0.9, args.mated // 5)][: args.mated]
    mates = rng.choice(len(vectors), args.mated, replace=False)
    photos = np.concatenate([near(vectors[mates], cos, rng),
                             unit(rng.standard_normal((args.strangers, DIM))
                                  .astype(np.float32))])
    print(machine_line(f"numpy {np.__version__}",
                       "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())))
    print(f"# {args.templates} templates, {len(set(owner_list))} travellers, "
          f"{args.mated} mated + {args.strangers} stranger photos, seed {args.seed}")
    print("| backend | k | build s | full-row p50 ms | p95 | candidates p50 ms | p95 | "
          "agreement | rank-1 found | decisive found | differ where found | "
          "matches lost (of) | matches gained |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            stored, built = build(backend, ids, vectors, owners, Path(tmp))
            for k in args.k:
                r = run(backend, stored, photos, k)
                print(f"| {backend} | {k} | {built:.1f} | {r['full_p50']} | {r['full_p95']} | "
                      f"{r['cand_p50']} | {r['cand_p95']} | {r['agree']:.4f} | "
                      f"{r['rank1']:.4f} | {r['decisive']:.4f} | {r['decisive_differ']} | "
                      f"{r['lost']} ({r['matches']}) | {r['gained']} |",
                      flush=True)
            if backend == "milvus":
                stored.index.close()  # type: ignore[attr-defined]
    print("# load average at the end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
