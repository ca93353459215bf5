"""Service load: encounters per second and p50/p95 latency at 1, 4 and 16 concurrent clients.

Starts a real ``bordermatch serve`` (uvicorn, one process) on a free loopback port, on
SQLite (a temp file) and on PostgreSQL (a throw-away schema), enrols two public-domain
travellers, then at each concurrency level sends a fixed number of requests of three kinds:

* ``gate``: a gate encounter with a photo (decode, detect, embed, 1:N, encrypted blobs,
  one transaction with its audit entry): the full service path;
* ``opt_out``: an opt-out encounter (no face work): the storage and audit path alone;
* ``healthz``: the reference, measured in the same run at the same concurrency, so the
  ratios mean something on a noisy, shared machine.

Bounded in count (``--requests`` per kind and level) and in time (``--level-timeout``).
Traffic goes only to 127.0.0.1. The clients run in this process, on the same cores as the
server, so absolute figures are a floor for the server alone.

    python benchmarks/service_load.py [--db sqlite,postgresql] [--levels 1,4,16]
                                      [--requests 48] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

PHOTOS = Path(__file__).resolve().parents[1] / "src" / "bordermatch" / "data" / "publicdomain"
PG_URL = os.environ.get("BORDERMATCH_TEST_PG",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROLES = ("admin", "officer", "gate_device")
KINDS = ("healthz", "gate", "opt_out")


@dataclass(frozen=True)
class LevelResult:
    db: str
    kind: str
    clients: int
    requests: int
    errors: int
    per_s: float
    p50_ms: float
    p95_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Database:
    """A fresh database for one run: a SQLite file, or a PostgreSQL schema dropped after."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind, self.schema = kind, None
        if kind == "sqlite":
            self.url = f"sqlite:///{root / 'load.db'}"
        else:
            from sqlalchemy import create_engine, text

            self.schema = f"bm_load_{os.getpid()}_{secrets.token_hex(3)}"
            self._admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with self._admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            sep = "&" if "?" in PG_URL else "?"
            self.url = f"{PG_URL}{sep}options=-csearch_path%3D{self.schema}"

    def close(self) -> None:
        if self.schema:
            from sqlalchemy import text

            with self._admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            self._admin.dispose()


def issue_keys(url: str) -> dict[str, str]:
    from bordermatch.store import keys
    from bordermatch.store.clock import SystemClock
    from bordermatch.store.db import make_engine, sessionmaker_for, upgrade

    engine = make_engine(url)
    upgrade(engine)
    out = {}
    with sessionmaker_for(engine).begin() as s:
        for role in ROLES:
            lanes = ["gate-1"] if role in keys.BOUND_ROLES else []
            _, out[role] = keys.create_key(s, SystemClock(), role, f"load {role}", lanes)
    engine.dispose()
    return out


def start_server(url: str, root: Path, matcher: str | None) -> tuple[subprocess.Popen, str]:
    import httpx

    from bordermatch.store.blobs import KeyRing

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BORDERMATCH_")}
    env.update({"BORDERMATCH_DATABASE_URL": url, "BORDERMATCH_BLOB_DIR": str(root / "blobs"),
                "BORDERMATCH_BLOB_KEYS": KeyRing.encode_entry("load", KeyRing.generate_key())})
    if matcher:
        env["BORDERMATCH_MATCHER"] = matcher
    log = open(root / "server.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([sys.executable, "-c", "from bordermatch.cli import main; main()",
                             "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((root / "server.log").read_text(errors="replace")[-2000:])
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def seed(base: str, tokens: dict[str, str], photos: dict[str, bytes]) -> str:
    import httpx

    now = datetime.now(UTC)
    with httpx.Client(base_url=base, timeout=120) as c:
        g = c.post("/v1/galleries", headers={"X-API-Key": tokens["admin"]}, json={
            "name": "load", "kind": "crossing",
            "valid_from": (now - timedelta(hours=1)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(), "lanes": ["gate-1"]})
        g.raise_for_status()
        gallery = g.json()["id"]
        for tid, name, opt_out in (("T-OBAMA", "obama", False), ("T-BIDEN", "biden", False),
                                   ("T-OPT", None, True)):
            form = {"traveler_id": tid, "given_names": "A", "surname": tid,
                    "document_type": "P", "document_number": tid, "nationality": "USA",
                    "citizen": "false", "opt_out": str(opt_out).lower()}
            files = {"photo": ("p.jpg", photos[name], "image/jpeg")} if name else None
            r = c.post(f"/v1/galleries/{gallery}/travelers", data=form, files=files,
                       headers={"X-API-Key": tokens["officer"]})
            r.raise_for_status()
    return gallery


def make_request(kind: str, tokens: dict[str, str], gallery: str, photos: dict[str, bytes]):
    """A function (client, i) -> status code, for one request of ``kind``."""
    gate_auth = {"X-API-Key": tokens["gate_device"]}

    def gate(c, i: int) -> int:
        photo = photos["obama2" if i % 2 else "biden2"]
        return c.post("/v1/encounters/gate", headers=gate_auth,
                      data={"gallery_id": gallery, "lane": "gate-1", "direction": "entry"},
                      files={"photo": ("p.jpg", photo, "image/jpeg")}).status_code

    def opt_out(c, i: int) -> int:
        return c.post("/v1/encounters/opt-out", headers=gate_auth,
                      json={"gallery_id": gallery, "lane": "gate-1", "direction": "exit",
                            "traveler_id": "T-OPT"}).status_code

    def healthz(c, i: int) -> int:
        return c.get("/healthz").status_code

    return {"gate": gate, "opt_out": opt_out, "healthz": healthz}[kind]


def run_level(base: str, fn, clients: int, n: int, timeout_s: float) -> tuple[list[float], int,
                                                                                float]:
    """``n`` requests over ``clients`` keep-alive connections; (latencies s, errors, wall s)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(n))
    deadline = time.monotonic() + timeout_s

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, timeout=120) as c:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                try:
                    ok = 200 <= fn(c, i) < 300
                except httpx.TransportError:
                    ok = False
                dt = time.perf_counter() - t
                with lock:
                    latencies.append(dt)
                    errors += not ok

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - t0


def engine_reference(matcher: str, photos: dict[str, bytes], repeats: int) -> LevelResult:
    """The face work of one gate encounter, in this process: decode, detect, align, quality,
    embed. The service's gate latency over this is what HTTP, storage and audit add."""
    from bordermatch.config import Settings
    from bordermatch.io.images import decode_image
    from bordermatch.match.engine import FaceEngine

    engine = FaceEngine.from_settings(Settings(matcher=matcher))
    model = engine.matcher.first_models[0]
    limits = Settings().limits

    def once(i: int) -> None:
        image = decode_image(photos["obama2" if i % 2 else "biden2"], limits, name="photo")
        engine.samples(image, models=[model])

    for i in range(3):
        once(i)
    lat = []
    t0 = time.perf_counter()
    for i in range(repeats):
        t = time.perf_counter()
        once(i)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    ms = np.asarray(lat) * 1000
    r = LevelResult("in-process", "engine", 1, repeats, 0, round(repeats / wall, 2),
                    round(float(np.percentile(ms, 50)), 1), round(float(np.percentile(ms, 95)), 1))
    print(f"{'in-process':10s} {'engine':8s} c=1   n={repeats:<4d} err=0   {r.per_s:8.2f}/s  "
          f"p50 {r.p50_ms:8.1f} ms  p95 {r.p95_ms:8.1f} ms", flush=True)
    return r


def bench_db(db_kind: str, args, photos: dict[str, bytes]) -> list[LevelResult]:
    root = Path(tempfile.mkdtemp(prefix=f"bm-load-{db_kind}-"))
    db = Database(db_kind, root)
    proc = None
    try:
        tokens = issue_keys(db.url)
        proc, base = start_server(db.url, root, args.matcher)
        gallery = seed(base, tokens, photos)
        results = []
        fns = {kind: make_request(kind, tokens, gallery, photos) for kind in KINDS}
        for fn in fns.values():
            run_level(base, fn, 2, 8, 60)  # warm-up: engine, caches, connection pools
        # Kinds interleaved within each level, so the /healthz reference is taken under
        # the same background load as the encounters it is compared with.
        for clients in args.levels:
            for kind in KINDS:
                lat, errors, wall = run_level(base, fns[kind], clients, args.requests,
                                              args.level_timeout)
                ms = np.asarray(lat) * 1000
                r = LevelResult(db_kind, kind, clients, len(lat), errors,
                                round(len(lat) / wall, 2), round(float(np.percentile(ms, 50)), 1),
                                round(float(np.percentile(ms, 95)), 1))
                results.append(r)
                print(f"{db_kind:10s} {kind:8s} c={clients:<3d} n={r.requests:<4d} "
                      f"err={errors:<3d} {r.per_s:8.2f}/s  p50 {r.p50_ms:8.1f} ms  "
                      f"p95 {r.p95_ms:8.1f} ms", flush=True)
        return results
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        db.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--levels", default="1,4,16")
    ap.add_argument("--requests", type=int, default=48, help="per kind and level")
    ap.add_argument("--level-timeout", type=float, default=120.0, help="seconds per level")
    # sface: the matcher the service tests use; the default "cascade" needs a calibration
    # file that a fresh checkout may not have built.
    ap.add_argument("--matcher", default="sface", help="BORDERMATCH_MATCHER for the server")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",")]
    photos = {p.stem: p.read_bytes() for p in PHOTOS.glob("*.jpg")}
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.platform()}  "
          f"{os.cpu_count()} CPUs  Python {platform.python_version()}  "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    results: list[LevelResult] = [engine_reference(args.matcher, photos, 16)]
    for db_kind in args.db.split(","):
        results += bench_db(db_kind, args, photos)
    ref = {(r.db, r.clients): r for r in results if r.kind == "healthz"}
    print("\nratio to /healthz at the same concurrency (same server, same run):")
    for r in results:
        if r.kind in ("gate", "opt_out"):
            h = ref[(r.db, r.clients)]
            print(f"{r.db:10s} {r.kind:8s} c={r.clients:<3d} throughput x{r.per_s / h.per_s:6.3f}"
                  f"  p50 x{r.p50_ms / h.p50_ms:7.1f}")
    engine = results[0]
    for r in results:
        if r.kind == "gate" and r.clients == 1:
            print(f"{r.db:10s} gate     c=1   p50 x{r.p50_ms / engine.p50_ms:5.2f} the in-process "
                  f"face work ({engine.p50_ms} ms)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
