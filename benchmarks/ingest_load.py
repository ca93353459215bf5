"""Durable ingest under load: vehicles per hour and p95 decision latency with 1 and 2
`bordermatch worker` processes, beside an in-process reference run in the same script.

A simulated lane (``bordermatch lane simulate`` output: a gallery directory and event
folders) is enrolled into a throw-away PostgreSQL schema. Then:

* ``in-process``: each event through ``BorderService.vehicle_encounter`` in this process,
  one after another: the pipeline and the commit alone, no broker;
* ``broker, N workers``: N worker processes consume one queue; this process publishes
  the events at ``--rate`` vehicles per second (loopback only, bounded by ``--limit``) with
  a direct reply-to and times each decision from publish to answer;
* ``HTTP -> broker, N workers``: the lane device's HTTP route in broker mode. This process
  starts ``bordermatch serve`` on 127.0.0.1 with ``BORDERMATCH_INGEST=broker`` and N
  workers, and posts the events to ``/v1/encounters/vehicle`` at ``--rate`` (open loop:
  each post in its own thread at its scheduled time, at most ``MAX_RATE`` per second and
  ``--limit`` posts); the latency is from the post to the route's answer, which is the
  worker's decision.

The difference between the latencies is what the broker, the HTTP edge, the second
process and the database cost. Every figure comes from the same events on the same machine
in one run.

    python benchmarks/ingest_load.py --gallery-dir RUN/gallery --events RUN/events \\
        [--limit 30] [--rate 0.5] [--workers 1,2] [--via broker,http]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

PG_URL = os.environ.get("BORDERMATCH_TEST_PG",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("BORDERMATCH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
LOOPBACK = "127.0.0.1"  # the HTTP mode serves and posts on loopback only
MAX_RATE = 20.0  # vehicles per second: a bounded load generator, not a flood


def _schema_url(schema: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def _drop(schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _setup(service, gallery_dir: Path, lanes: list[str]):
    from datetime import timedelta

    from bordermatch.gallery.manifest import parse_manifest
    from bordermatch.store import keys, repo

    with service.sessions.begin() as s:
        admin, _ = keys.create_key(s, service.clock, "admin", "load admin")
        _, lane_token = keys.create_key(s, service.clock, "lane_device", "load lane", lanes)
    now = service.clock.now()
    g = service.create_gallery(admin, "load", "crossing", now - timedelta(days=1),
                               now + timedelta(days=30), lanes)
    parsed = parse_manifest((gallery_dir / "manifest.csv").read_text())
    t0, n = time.perf_counter(), 0
    for rows in parsed.travellers().values():
        for row in rows:
            bio = repo.Biographics(row.traveler_id, row.given_names, row.surname,
                                   row.document_type, row.document_number, row.nationality,
                                   row.citizen, row.opt_out)
            try:
                service.enrol(admin, g.id, bio, (gallery_dir / row.photo).read_bytes())
                n += 1
            except Exception as exc:  # a photo the enrolment refuses: reported, skipped
                print(f"enrol {row.traveler_id}: {exc}", file=sys.stderr)
    print(f"enrolled {n} photos in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return g.id, lane_token


def _events(folder: Path, limit: int):
    """The lane's vehicle messages; the gallery id is set once the gallery exists."""
    from bordermatch.ingest.messages import vehicle_message
    from bordermatch.lane.events import event_folders

    return [vehicle_message(f, "") for f in event_folders(folder)[:limit]]


def _in_process(service, token: str, gallery: str, events) -> dict:
    from bordermatch.store import keys

    with service.sessions() as s:
        who = keys.authenticate(s, token)
    lat = []
    t0 = time.perf_counter()
    for msg in events:
        t = time.perf_counter()
        service.vehicle_encounter(who, gallery, msg.event, msg.frames, f"ref-{msg.encounter_id}",
                                  "ref")
        lat.append((time.perf_counter() - t) * 1000)
    return _summary("in-process (reference)", 0, lat, time.perf_counter() - t0)


def _summary(mode: str, workers: int, lat: list[float], wall: float) -> dict:
    a = np.asarray(lat)
    return {"mode": mode, "workers": workers, "vehicles": len(lat),
            "vehicles_per_hour": round(len(lat) / wall * 3600),
            "p50_ms": round(float(np.percentile(a, 50))),
            "p95_ms": round(float(np.percentile(a, 95)))}


def _broker_run(url: str, settings_env: dict, token: str, gallery: str, events, workers: int,
                rate: float) -> dict:
    from bordermatch.ingest import broker

    topo = broker.Topology(f"bm-load-{secrets.token_hex(3)}", 5)
    env = os.environ | settings_env | {"BORDERMATCH_INGEST_QUEUE": topo.queue,
                                       "BORDERMATCH_RUN_MIGRATIONS": "false"}
    conn = broker.connect(AMQP_URL)
    ch = conn.channel()
    broker.declare(ch, topo)
    procs = [subprocess.Popen([sys.executable, "-m", "bordermatch", "worker"], env=env,
                              stderr=subprocess.DEVNULL) for _ in range(workers)]
    sent: dict[str, float] = {}
    got: dict[str, float] = {}

    def on_reply(c, m, props, body):
        got[props.correlation_id] = time.perf_counter()
        if json.loads(body).get("status") != "done":
            print(f"not decided: {body[:200]!r}", file=sys.stderr)

    ch.basic_consume("amq.rabbitmq.reply-to", on_reply, auto_ack=True)
    # Warm-up: one event per worker decides nothing that is counted (model loading).
    for k in range(workers):
        _send(ch, topo, token, replace(events[k % len(events)], gallery_id=gallery,
                                       encounter_id=f"warm-{topo.queue}-{k}"),
              f"warm-{k}", sent)
    while len([k for k in got if k.startswith("warm-")]) < workers:
        conn.process_data_events(time_limit=0.1)
    t0 = time.perf_counter()
    for i, msg in enumerate(events):
        while time.perf_counter() < t0 + i / rate:
            conn.process_data_events(time_limit=0.01)
        _send(ch, topo, token, replace(msg, gallery_id=gallery,
                                       encounter_id=f"{topo.queue}-{i}"), f"e-{i}", sent)
    deadline = time.perf_counter() + 600
    while sum(k.startswith("e-") for k in got) < len(events) and time.perf_counter() < deadline:
        conn.process_data_events(time_limit=0.1)
    for p in procs:
        p.terminate()
        p.wait(30)
    ch.queue_delete(topo.queue)
    ch.queue_delete(topo.dead)
    conn.close()
    lat = [(got[k] - sent[k]) * 1000 for k in sent if k.startswith("e-") and k in got]
    wall = max(got[k] for k in got if k.startswith("e-")) - t0
    return _summary(f"broker, {workers} worker(s), {rate}/s offered", workers, lat, wall)


def _send(ch, topo, token, msg, cid: str, sent: dict) -> None:
    from bordermatch.ingest import broker

    sent[cid] = time.perf_counter()
    broker.publish(ch, topo.queue, msg.encode(), headers={"authorization": f"Bearer {token}"},
                   message_id=msg.encounter_id, reply_to="amq.rabbitmq.reply-to",
                   correlation_id=cid)


def _http_run(settings_env: dict, token: str, gallery: str, events, workers: int,
              rate: float) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from bordermatch.ingest import broker

    topo = broker.Topology(f"bm-load-http-{secrets.token_hex(3)}", 5)
    with socket.socket() as s:  # a free loopback port for this run's API
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    env = os.environ | settings_env | {"BORDERMATCH_INGEST_QUEUE": topo.queue,
                                       "BORDERMATCH_RUN_MIGRATIONS": "false",
                                       "BORDERMATCH_INGEST": "broker",
                                       "BORDERMATCH_INGEST_REPLY_TIMEOUT_S": "120"}
    procs = [subprocess.Popen([sys.executable, "-m", "bordermatch", "serve", "--host",
                               LOOPBACK, "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    procs += [subprocess.Popen([sys.executable, "-m", "bordermatch", "worker"], env=env,
                               stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        with httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=180) as client, \
                ThreadPoolExecutor(max_workers=64) as pool:
            _wait_healthy(client, procs[0])
            # Warm-up: one event per worker (model loading), answered before the clock starts.
            for f in [pool.submit(_post, client, token, gallery, events[k % len(events)],
                                  f"warm-{topo.queue}-{k}") for k in range(workers)]:
                f.result()
            t0 = time.perf_counter()
            futures = []
            for i, msg in enumerate(events):
                time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
                futures.append(pool.submit(_post, client, token, gallery, msg,
                                           f"{topo.queue}-{i}"))
            results = [f.result() for f in futures]
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
        conn = broker.connect(AMQP_URL)
        ch = conn.channel()
        ch.queue_delete(topo.queue)
        ch.queue_delete(topo.dead)
        conn.close()
    decided = [(ms, end) for status, ms, end in results if status == 201]
    if len(decided) < len(results):
        print(f"HTTP: {len(results) - len(decided)} posts not decided: "
              f"{sorted({st for st, _, _ in results if st != 201})}", file=sys.stderr)
    wall = max(end for _, end in decided) - t0
    return _summary(f"HTTP -> broker, {workers} worker(s), {rate}/s offered", workers,
                    [ms for ms, _ in decided], wall)


def _wait_healthy(client, api: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise SystemExit(f"bordermatch serve exited with {api.returncode}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("bordermatch serve did not become healthy in 120 s")


def _post(client, token: str, gallery: str, msg, key: str) -> tuple[int, float, float]:
    """(status, latency ms, end time) of one vehicle post, as the lane device sends it."""
    t = time.perf_counter()
    r = client.post("/v1/encounters/vehicle",
                    headers={"authorization": f"Bearer {token}", "idempotency-key": key},
                    data={"gallery_id": gallery, "event": msg.event},
                    files=[("frames", (n, d, "image/jpeg")) for n, d in msg.frames])
    end = time.perf_counter()
    if r.status_code != 201:
        print(f"HTTP {r.status_code}: {r.text[:200]}", file=sys.stderr)
    return r.status_code, (end - t) * 1000, end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gallery-dir", type=Path, required=True)
    ap.add_argument("--events", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--rate", type=float, default=0.5, help="vehicles per second offered")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--via", default="broker,http",
                    help="broker (publish directly), http (the route in broker mode), or both")
    args = ap.parse_args()
    via = set(args.via.split(","))
    if not via <= {"broker", "http"}:
        ap.error("--via takes broker, http or both")
    if not 0 < args.rate <= MAX_RATE or args.limit < 1:
        ap.error(f"--rate must be in (0, {MAX_RATE:g}] vehicles/s and --limit at least 1")

    import tempfile

    from bordermatch.service.factory import build_service
    from bordermatch.store.blobs import KeyRing
    from bordermatch.store.config import ServiceSettings

    schema = f"bm_load_{os.getpid()}"
    blob_dir = Path(tempfile.mkdtemp(prefix="bm-load-blobs-"))
    key = KeyRing.encode_entry("load", KeyRing.generate_key())
    env = {"BORDERMATCH_DATABASE_URL": _schema_url(schema), "BORDERMATCH_BLOB_DIR": str(blob_dir),
           "BORDERMATCH_BLOB_KEYS": key, "BORDERMATCH_BROKER_URL": AMQP_URL}
    try:
        settings = ServiceSettings(database_url=env["BORDERMATCH_DATABASE_URL"],
                                   blob_dir=blob_dir, blob_keys=key, run_purge_scheduler=False)
        service, db = build_service(settings)
        events = _events(args.events, args.limit)
        lanes = sorted({msg.lane for msg in events})
        gallery, token = _setup(service, args.gallery_dir, lanes)
        rows = [_in_process(service, token, gallery, events)]
        for w in (int(x) for x in args.workers.split(",")):
            if "broker" in via:
                rows.append(_broker_run(AMQP_URL, env, token, gallery, events, w, args.rate))
            if "http" in via:
                rows.append(_http_run(env, token, gallery, events, w, args.rate))
        db.dispose()
    finally:
        _drop(schema)
    load = os.getloadavg()
    print(f"{len(events)} vehicles, {os.cpu_count()} cores, load average {load[0]:.1f}")
    print("| mode | vehicles | vehicles/hour | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['vehicles']} | {r['vehicles_per_hour']:,} | {r['p50_ms']:,} "
              f"| {r['p95_ms']:,} |")


if __name__ == "__main__":
    main()
