"""RabbitMQ topology and publishing (pika), the broker of durable ingest.

Why RabbitMQ rather than NATS JetStream (both run on the target machines): a quorum queue
gives what ingest needs as configuration instead of code. It is replicated and durable,
counts each message's deliveries (``x-delivery-count``), and at ``x-delivery-limit``
dead-letters the message itself, reason ``delivery_limit``, to a dead-letter queue: that is
what stops a message that kills every worker that takes it. JetStream has the redelivery
counter but no dead-letter queue; the consumer would have to build one from advisories.

Topology, declared idempotently by every worker and publisher:

    <queue>        quorum queue, x-delivery-limit = ingest_max_deliveries,
                   dead-letter exchange "" with routing key <queue>.dead
    <queue>.dead   quorum queue: messages that failed, each with its reason
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pika
import pika.exceptions

from bordermatch.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Topology:
    queue: str
    max_deliveries: int

    @property
    def dead(self) -> str:
        return f"{self.queue}.dead"


def connect(url: str, name: str | None = None) -> pika.BlockingConnection:
    """A blocking connection, or ConfigError in one line when the broker cannot be reached;
    ``name`` is what ``rabbitmqctl list_connections`` shows as its connection_name."""
    try:
        params = pika.URLParameters(url)
    except Exception as exc:  # pika raises several types for a malformed URL
        raise ConfigError(f"broker URL is not an AMQP URL: {exc}") from None
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 30
    if name:
        params.client_properties = {"connection_name": f"{name} pid {os.getpid()}"}
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        raise ConfigError(f"cannot reach the broker at {params.host}:{params.port} "
                          f"({type(exc).__name__})") from None


def declare(channel: Any, topology: Topology) -> None:
    """Declare both queues; every process must agree on their arguments (a queue that exists
    with another delivery limit is a deployment error, said in one line)."""
    try:
        channel.queue_declare(topology.dead, durable=True,
                              arguments={"x-queue-type": "quorum"})
        channel.queue_declare(topology.queue, durable=True, arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": topology.max_deliveries,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": topology.dead,
        })
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise ConfigError(f"queue {topology.queue!r} cannot be declared as configured: "
                          f"{exc.reply_text}") from None


def publish(channel: Any, routing_key: str, body: bytes,
            headers: Mapping[str, Any] | None = None, message_id: str | None = None,
            reply_to: str | None = None, correlation_id: str | None = None,
            mandatory: bool = True) -> None:
    """Publish persistently; with publisher confirms on, returns only once the broker holds
    the message (an unroutable one raises, unless ``mandatory`` is off)."""
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 headers=dict(headers or {}),
                                 message_id=message_id or uuid.uuid4().hex,
                                 reply_to=reply_to, correlation_id=correlation_id)
    channel.basic_publish("", routing_key, body, props, mandatory=mandatory)


class Publisher:
    """A device-side (or API-side) publisher with confirms on: ``send`` returns when the
    broker has the message, so the device can forget it."""

    def __init__(self, url: str, topology: Topology) -> None:
        self.topology = topology
        self.connection = connect(url)
        try:
            self.channel = self.connection.channel()
            self.channel.confirm_delivery()
            declare(self.channel, topology)
        except Exception:
            self.connection.close()
            raise

    def send(self, body: bytes, token: str, message_id: str | None = None) -> None:
        publish(self.channel, self.topology.queue, body,
                headers={"authorization": f"Bearer {token}"}, message_id=message_id)

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dead_letters(url: str, topology: Topology, limit: int = 100) -> list[dict[str, Any]]:
    """Look at (without consuming) the dead-letter queue: each message's reason, its
    encounter id and how often it was tried. Messages are requeued untouched."""
    conn = connect(url)
    try:
        ch = conn.channel()
        declare(ch, topology)
        out: list[dict[str, Any]] = []
        tags = []
        for _ in range(limit):
            method, props, body = ch.basic_get(topology.dead, auto_ack=False)
            if method is None:
                break
            tags.append(method.delivery_tag)
            out.append(describe(props, body))
        for tag in tags:
            ch.basic_nack(tag, requeue=True)
        return out
    finally:
        conn.close()


def describe(props: Any, body: bytes) -> dict[str, Any]:
    headers = dict(props.headers or {})
    deaths = headers.get("x-death") or []
    reason = headers.get("x-bordermatch-reason")
    if reason is None and deaths:
        reason = deaths[0].get("reason")
    if isinstance(reason, bytes):
        reason = reason.decode()
    detail = headers.get("x-bordermatch-detail", "")
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return {"message_id": props.message_id, "reason": reason, "detail": detail,
            "deliveries": headers.get("x-delivery-count"), "bytes": len(body)}


def on_sigterm(callback: Any) -> Any:
    """Make SIGTERM call ``callback`` (a consumer's stop), from the main thread only; returns
    the previous handler for :func:`restore_sigterm`."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda *_: callback())


def restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def beside_heartbeats(channel: Any, work: Callable[[], T]) -> T:
    """``work()`` (a task of any length) in a thread while this thread, the connection's,
    goes on answering the broker. A blocking connection only sends heartbeats while it
    processes I/O: a task longer than the heartbeat timeout (60 s by RabbitMQ's default)
    would lose the connection, and the broker would hand its message to a second worker
    while the first still works on it. pika dispatches no other callback meanwhile (it does
    not nest them), and with prefetch 1 nothing else is delivered."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the caller's thread, raised there
            box["error"] = exc

    thread = threading.Thread(target=run, name="bordermatch-task", daemon=True)
    thread.start()
    try:
        while True:
            thread.join(0.5)  # returns the moment the task ends: no latency added to it
            if not thread.is_alive():
                break
            channel.connection.process_data_events(time_limit=0)  # heartbeats, no dispatch
    except BaseException:
        # The connection died under the task: let the task finish before the worker
        # reconnects, so that it never works on two tasks at once (its message comes back).
        thread.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


class _ChannelLost(Exception):
    """The broker closed the consuming channel without closing the connection."""


# What ends one connection and not the worker: the broker restarting or failing over, a
# quorum queue that timed out a consume on a loaded node (541 INTERNAL_ERROR), a channel
# closed under the consumer. A wrong queue declaration is a ConfigError and is not retried.
LOST = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError, _ChannelLost)
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.5, 15.0


def consume(url: str, topology: Topology, on_message: Any, stopping: threading.Event,
            name: str) -> None:
    """Deliver ``topology.queue``'s messages one at a time (prefetch 1, publisher confirms
    on) to ``on_message`` until ``stopping`` is set (SIGTERM sets it too), then cancel and
    close: a message delivered and not acked goes back to the queue for another consumer.

    The first connection failing is a ConfigError (no broker, a wrong URL: said at once). A
    connection lost later is reopened with backoff for as long as the worker runs; the
    message in hand was not acked, so the broker hands it out again, and both consumers are
    idempotent (the encounter id, the chunk's result file). ``name`` is the connection's
    name in ``rabbitmqctl list_connections``."""
    previous = on_sigterm(stopping.set)
    try:
        conn: Any = connect(url, name)
        delay = RECONNECT_FIRST_S
        while True:
            if conn is not None:
                began = time.monotonic()
                try:
                    _consume_on(conn, topology, on_message, stopping)
                    return
                except LOST as exc:
                    if time.monotonic() - began > RECONNECT_MAX_S:
                        delay = RECONNECT_FIRST_S  # it had worked: this is a new outage
                    print(f"broker connection lost ({type(exc).__name__}: {exc}); "
                          f"reconnecting in {delay:.1f} s", file=sys.stderr, flush=True)
            if stopping.wait(delay):
                return
            delay = min(delay * 2, RECONNECT_MAX_S)
            try:
                conn = connect(url, name)
            except ConfigError as exc:
                conn = None
                print(f"{exc}; retrying in {delay:.1f} s", file=sys.stderr, flush=True)
    finally:
        restore_sigterm(previous)


def _consume_on(conn: Any, topology: Topology, on_message: Any,
                stopping: threading.Event) -> None:
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        declare(ch, topology)
        ch.basic_qos(prefetch_count=1)  # one at a time: an unacked one is all we risk
        tag = ch.basic_consume(topology.queue, on_message)
        while not stopping.is_set():
            if not ch.is_open:
                raise _ChannelLost("the broker closed the channel")
            conn.process_data_events(time_limit=0.2)
        ch.basic_cancel(tag)
    finally:
        _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    try:
        if conn.is_open:
            conn.close()
    except LOST:
        pass  # closing a connection the broker already dropped
