"""1:N search at gallery scale: FAISS index against exact flat search in the same process.

The gallery is random unit vectors (no cluster structure: the hardest case for an ANN
index). Queries are mated probes: gallery vectors moved to an exact cosine ``--cos`` from
their mate in a random direction, so each has a true neighbour. Recall@1 is the fraction
of queries whose ANN top-1 id equals the exact top-1 id of the FlatIndex (the mate in
practice). Latency is one query per call, single-threaded as a lane request would issue
it; throughput is one batched call using every core. Build time covers ``add`` of the whole
gallery (for IVF-PQ that includes k-means, PQ training, encoding and nprobe calibration).

    python benchmarks/search_1n.py --sizes 100000 1000000 --dims 128 512
    python benchmarks/search_1n.py --sizes 100000 --dims 128 --methods ivfpq hnsw milvus

Milvus methods (``milvus`` is AUTOINDEX; ``milvus-hnsw``, ``milvus-ivf_flat``,
``milvus-flat`` name the index type) run embedded Milvus Lite from a temporary directory.
Its build time covers insert, flush and the per-segment index builds it runs in the
background. A Milvus Lite query costs time linear in the collection size outside the
index (see docs/benchmarks.md), so those rows time ``--milvus-queries`` queries only.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from bordermatch.index.ann import FaissIndex, mated_probes
from bordermatch.index.flat import FlatIndex


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def index_mb(index) -> float:
    """What an index holds: its float32 rows, plus the serialised FAISS structure."""
    import faiss

    held = index._vectors[: len(index._ids)].nbytes  # white-box: the kept gallery rows
    if getattr(index, "_index", None) is not None:
        held += faiss.serialize_index(index._index).nbytes
    return held / 2**20


def unit_gallery(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def per_query(index, queries: np.ndarray,
              k: int) -> tuple[list[float], list[float], list[str]]:
    """Wall and CPU time of one-query calls on one FAISS thread, and each top-1 id.

    On a shared machine the wall time includes waiting for a core; the calling thread's
    CPU time does not, so the two together say whether the work or the wait is slow.
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    wall, cpu, top = [], [], []
    index.search(queries[:1], k)  # warm-up
    for q in queries:
        c, t = time.thread_time(), time.perf_counter()
        _, found = index.search(q[None, :], k)
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        top.append(found[0][0] if found[0] else "")
    faiss.omp_set_num_threads(threads)
    return wall, cpu, top


def pct(wall: list[float], cpu: list[float]) -> dict[str, float]:
    ms, cpu_ms = np.asarray(wall) * 1000, np.asarray(cpu) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
            "cpu_p95_ms": float(np.percentile(cpu_ms, 95))}


def run_case(n: int, dim: int, methods: list[str], args: argparse.Namespace) -> list[dict]:
    import faiss

    faiss.omp_set_num_threads(args.threads or os.cpu_count() or 1)
    gallery = unit_gallery(n, dim, seed=7)
    ids = [f"t{i:07d}" for i in range(n)]
    rng = np.random.default_rng(12345)  # not the index's calibration seed
    mates = rng.choice(n, args.queries, replace=False)
    queries = mated_probes(gallery[mates], args.cos, rng)
    rows = []

    t = time.perf_counter()
    flat = FlatIndex(dim)
    flat.add(ids, gallery)
    flat_build = time.perf_counter() - t
    t = time.perf_counter()
    _, truth_ids = flat.search(queries, 1)
    flat_batch = time.perf_counter() - t
    truth = [r[0] for r in truth_ids]
    mate_is_top = np.mean([tr == ids[m] for tr, m in zip(truth, mates, strict=True)])
    flat_wall, flat_cpu, _ = per_query(flat, queries[: args.flat_queries], 1)
    rows.append({"n": n, "dim": dim, "method": "flat (exact)", "build_s": flat_build,
                 "memory_mb": index_mb(flat), "recall_at_1": 1.0,
                 "qps_batch": len(queries) / flat_batch, **pct(flat_wall, flat_cpu),
                 "mate_is_exact_top1": float(mate_is_top)})
    print(json.dumps(rows[-1]), flush=True)

    for method in methods:
        if method == "hnsw" and n > args.hnsw_max:
            print(json.dumps({"n": n, "dim": dim, "method": method,
                              "skipped": f"build too slow above {args.hnsw_max}"}), flush=True)
            continue
        gc.collect()
        milvus = method.startswith("milvus")
        asked = queries[: args.milvus_queries] if milvus else queries
        t = time.perf_counter()
        tuning = {k: v for k, v in (("ef", args.milvus_ef), ("nprobe", args.milvus_nprobe))
                  if v}
        ann = make_index(method, dim, tuning or None)
        ann.add(ids, gallery)
        if milvus:
            settle_milvus(ann)
        build = time.perf_counter() - t
        memory = float("nan") if milvus else index_mb(ann)
        wall, cpu, top = per_query(ann, asked, 1)
        t = time.perf_counter()
        _, batch_ids = ann.search(asked, 1)
        batch = time.perf_counter() - t
        recall = np.mean([a == b for a, b in zip(top, truth, strict=False)])
        batch_recall = np.mean([(r[0] if r else "") == b
                                for r, b in zip(batch_ids, truth, strict=False)])
        row = {"n": n, "dim": dim, "method": method, "build_s": build, "memory_mb": memory,
               "queries": len(asked), "recall_at_1": float(recall),
               **({"search_params": tuning} if milvus and tuning else {}),
               "recall_at_1_batch": float(batch_recall),
               "qps_batch": len(asked) / batch, **pct(wall, cpu)}
        if method == "ivfpq":
            row.update(nlist=ann.nlist, nprobe=ann.nprobe, rerank=ann.rerank,
                       **where_time_goes(ann, queries))
        rows.append(row)
        print(json.dumps(row), flush=True)
        if milvus:
            ann.drop()
            ann.close()
        del ann
    return rows


MILVUS_TYPES = {"milvus": "AUTOINDEX", "milvus-hnsw": "HNSW", "milvus-ivf_flat": "IVF_FLAT",
                "milvus-flat": "FLAT"}


def make_index(method: str, dim: int, milvus_params: dict | None = None):
    if method not in MILVUS_TYPES:
        return FaissIndex(dim, method=method)
    from bordermatch.index.milvus import MilvusIndex

    # Embedded Milvus Lite 3 serves gRPC from threads of this process: the CPU columns
    # count only the calling thread, not the server threads that do the search.
    return MilvusIndex(dim, uri=str(Path(tempfile.mkdtemp()) / "bench.db"),
                       collection=f"bench_{dim}", index_type=MILVUS_TYPES[method],
                       search_params=milvus_params)


def settle_milvus(index) -> None:
    """Seal the inserted rows into segments and wait for the background index builds, so
    queries measure the indexed steady state rather than a scan of the write buffer."""
    from milvus_lite import CollectionNotFoundError, server_manager_instance

    index.flush()
    for _, db, _ in list(server_manager_instance._servers.values()):  # white-box: wait
        with contextlib.suppress(CollectionNotFoundError):  # an earlier row's server
            db.get_collection(index.collection)._wait_for_bg()


def where_time_goes(ann: FaissIndex, queries: np.ndarray) -> dict[str, float]:
    """Split one IVF-PQ query into coarse quantizer, code scan and exact re-rank."""
    import faiss

    index = ann._index  # white-box on purpose: a breakdown needs the parts
    quantizer = faiss.downcast_index(index.quantizer)
    params = faiss.SearchParametersIVF(nprobe=ann.nprobe)
    coarse, scan, total = [], [], []
    for q in queries[:300]:
        q = q[None, :]
        t0 = time.perf_counter()
        quantizer.search(q, ann.nprobe)
        t1 = time.perf_counter()
        index.search(q, ann.rerank, params=params)
        t2 = time.perf_counter()
        ann.search(q, 1)
        t3 = time.perf_counter()
        coarse.append(t1 - t0)
        scan.append(t2 - t1)
        total.append(t3 - t2)
    c, s, tot = (float(np.median(x)) * 1000 for x in (coarse, scan, total))
    return {"coarse_ms": c, "scan_ms": max(0.0, s - c), "rerank_and_overhead_ms": tot - s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--methods", nargs="+", default=["ivfpq", "hnsw"],
                    choices=["ivfpq", "hnsw", *MILVUS_TYPES])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--flat-queries", type=int, default=100,
                    help="single-query timings for exact search (slow at 1M)")
    ap.add_argument("--milvus-queries", type=int, default=100,
                    help="queries timed per Milvus row (each costs O(n) in Milvus Lite)")
    ap.add_argument("--milvus-ef", type=int, default=0,
                    help="HNSW search breadth of Milvus rows (0: Milvus Lite's default, 64)")
    ap.add_argument("--milvus-nprobe", type=int, default=0,
                    help="IVF_FLAT lists probed by Milvus rows (0: Milvus Lite's default, 10)")
    ap.add_argument("--cos", type=float, default=0.8, help="cosine of each probe to its mate")
    ap.add_argument("--hnsw-max", type=int, default=100_000,
                    help="skip HNSW above this size (its build takes too long on 2 cores)")
    ap.add_argument("--threads", type=int, default=0, help="FAISS threads (0: all cores)")
    ap.add_argument("--json", type=Path, help="also write every row here")
    args = ap.parse_args()

    import faiss

    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, faiss {faiss.__version__}, "
          f"numpy {np.__version__}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
          flush=True)
    rows = []
    for dim in args.dims:
        for n in args.sizes:
            rows += run_case(n, dim, args.methods, args)
            gc.collect()
    print("\n| n | dim | method | queries | build s | memory MB | recall@1 | p50 ms | p95 ms | "
          "CPU p50 ms | CPU p95 ms | batch q/s |\n" + "|---" * 12 + "|")
    for r in (r for r in rows if "skipped" not in r):
        print(f"| {r['n']:,} | {r['dim']} | {r['method']} | {r.get('queries', args.queries)} | "
              f"{r['build_s']:.1f} | "
              f"{r['memory_mb']:.0f} | {r['recall_at_1']:.4f} | {r['p50_ms']:.2f} | "
              f"{r['p95_ms']:.2f} | {r['cpu_p50_ms']:.2f} | {r['cpu_p95_ms']:.2f} | "
              f"{r['qps_batch']:.0f} |")
    print(f"# load average at the end: {os.getloadavg()[0]:.1f}; "
          f"peak RSS {peak_rss_mb():.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
