"""A real RabbitMQ for the ingest tests: a fresh queue pair per test, deleted afterwards.
The tests skip when no broker answers at ``BORDERMATCH_TEST_AMQP``."""

from __future__ import annotations

import os
import secrets
import socket
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
