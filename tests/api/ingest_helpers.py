"""A real RabbitMQ for the ingest tests: a fresh queue pair per test, deleted afterwards.
The tests skip when no broker answers at ``BORDERMATCH_TEST_AMQP``."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select

AMQP_URL = os.environ.get("BORDERMATCH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")


def broker_or_skip() -> str:
    u = urlparse(AMQP_URL)
    try:
        socket.create_connection((u.hostname or "127.0.0.1", u.port or 5672), timeout=2).close()
    except OSError:
        pytest.skip(f"no RabbitMQ at {u.hostname}:{u.port} (set BORDERMATCH_TEST_AMQP)")
    return AMQP_URL


def queue_pair():
    """Generator for a ``topology`` fixture: a fresh queue and dead-letter queue."""
    from bordermatch.ingest.broker import Topology, connect

    url = broker_or_skip()
    topo = Topology(f"bm-test-{secrets.token_hex(4)}", max_deliveries=3)
    yield topo
    conn = connect(url)
    ch = conn.channel()
    for q in (topo.queue, topo.dead):
        ch.queue_delete(q)
    conn.close()


def publish(topology, message, token: str | None, message_id: str | None = None) -> None:
    from bordermatch.ingest.broker import Publisher

    with Publisher(AMQP_URL, topology) as pub:
        if token is None:  # a message with no key at all
            from bordermatch.ingest.broker import publish as raw

            raw(pub.channel, topology.queue, message, message_id=message_id)
        else:
            pub.send(message, token, message_id=message_id)


def encounters_by_key(app) -> dict[str, int]:
    from bordermatch.store.tables import Encounter

    with app.state.service.sessions() as s:
        rows = s.execute(select(Encounter.idempotency_key, func.count())
                         .group_by(Encounter.idempotency_key)).all()
    return {k: n for k, n in rows}


def scratch_queue(prefix: str):
    """(broker url, a fresh queue name), deleting the queue and its dead-letter queue after
    (a generator for a fixture; skips without a broker)."""
    from bordermatch.ingest import broker

    url = broker_or_skip()
    name = f"{prefix}-{secrets.token_hex(4)}"
    yield url, name
    conn = broker.connect(url)
    ch = conn.channel()
    for q in (name, f"{name}.dead"):
        ch.queue_delete(q)
    conn.close()


def in_flight(log: Path, finished: tuple[str, ...]) -> str | None:
    """The message (or task) a worker has started and not finished, from its own log: lines
    ``start ID`` and ``<one of finished> ID ...``."""
    open_ids: list[str] = []
    for line in log.read_text().splitlines():
        word, _, rest = line.partition(" ")
        mid = rest.split(" ")[0] if rest else ""
        if word == "start":
            open_ids.append(mid)
        elif word in finished and mid in open_ids:
            open_ids.remove(mid)
    return open_ids[-1] if open_ids else None


def wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _rabbitmqctl(*args: str) -> str:
    out = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                         timeout=60)
    if out.returncode != 0:
        pytest.skip(f"rabbitmqctl {args[0]} failed: {out.stderr.strip()[:200]}")
    return out.stdout


def drop_connection(name: str, timeout: float = 20.0) -> None:
    """Have the broker close this process's connection called ``name`` (what a broker restart
    or a failed consume does to a worker). When rabbitmqctl returns, the broker's side of the
    connection is closing and discards every method but close and close-ok (AMQP 0-9-1,
    connection.close): an ack the client sends after this is lost. Skips without
    rabbitmqctl (it needs to run as root or as the broker's user)."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("no rabbitmqctl to close a connection from the broker's side")
    wanted = f'{{"connection_name","{name} pid {os.getpid()}"}}'

    def pids() -> list[str]:
        listing = _rabbitmqctl("list_connections", "pid", "client_properties")
        return [line.split("\t")[0] for line in listing.splitlines() if wanted in line]

    found = wait_for(pids, timeout, f"a connection named {name!r}")
    for pid in found:
        _rabbitmqctl("close_connection", pid, "closed by the test")


def restart_broker() -> None:
    """Stop and start the RabbitMQ application (the Erlang node stays up): every client
    connection is closed and new ones are refused until it is back. Durable queues and
    their messages survive. Skips without rabbitmqctl."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("no rabbitmqctl to restart the broker")
    _rabbitmqctl("stop_app")
    _rabbitmqctl("start_app")
    _rabbitmqctl("await_startup", "--timeout", "90")
