"""The device routes in broker mode (``ingest = "broker"``): the HTTP route stays for devices
that cannot reach the broker, and publishes through the same path as they would.

The route checks the upload at the edge (size, pixel budget, event caps), publishes the
message with the caller's key and a direct reply-to queue, and waits up to
``ingest_reply_timeout_s`` for the worker's answer: the same body and status the inline
route gives. With no answer in time it says 202 with the encounter id; the message stays
queued, and a retry with the same Idempotency-Key returns the record once it exists.
"""

from __future__ import annotations

import json
import time
import uuid

import pika.exceptions
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from bordermatch.api.problems import problem
from bordermatch.errors import BusyError, ConfigError
from bordermatch.ingest import broker
from bordermatch.ingest.messages import EncounterMessage, bearer
from bordermatch.store.config import ServiceSettings

REPLY_TO = "amq.rabbitmq.reply-to"  # RabbitMQ's direct reply-to: no queue to clean up


def broker_mode(settings: ServiceSettings) -> bool:
    return settings.ingest == "broker"


def encounter_id(idempotency_key: str | None) -> str:
    return idempotency_key or f"http-{uuid.uuid4().hex}"


def _token(request: Request) -> str:
    """The caller's key as api/auth.py reads it: X-API-Key, else a bearer token."""
    return request.headers.get("x-api-key") or bearer(request.headers)


def forward(request: Request, settings: ServiceSettings, message: EncounterMessage) -> Response:
    topology = broker.Topology(settings.ingest_queue, settings.ingest_max_deliveries)
    try:
        conn = broker.connect(settings.broker_url)
    except ConfigError:
        raise BusyError("the ingest broker is unreachable; retry with the same "
                        "Idempotency-Key", retry_after_s=5.0) from None
    replies: list[bytes] = []
    cid = uuid.uuid4().hex
    try:  # the message may be out already: a retry with the same Idempotency-Key replays it
        ch = conn.channel()
        broker.declare(ch, topology)
        ch.basic_consume(REPLY_TO, lambda c, m, p, body: replies.append(body)
                         if p.correlation_id == cid else None, auto_ack=True)
        ch.confirm_delivery()
        broker.publish(ch, topology.queue, message.encode(),
                       headers={"authorization": f"Bearer {_token(request)}"},
                       message_id=message.encounter_id, reply_to=REPLY_TO, correlation_id=cid)
        deadline = time.monotonic() + settings.ingest_reply_timeout_s
        while not replies and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
    except pika.exceptions.AMQPError as exc:  # lost, blocked (a broker alarm) or refused
        raise BusyError(f"the ingest broker failed the request ({type(exc).__name__}); retry "
                        "with the same Idempotency-Key", retry_after_s=5.0) from None
    finally:
        if conn.is_open:
            conn.close()
    if not replies:
        return JSONResponse({"status": "queued", "encounter_id": message.encounter_id},
                            status_code=202)
    answer = json.loads(replies[0])
    if answer.get("status") != "done":
        return problem(int(answer.get("http_status", 503)), str(answer.get("code", "error")),
                       str(answer.get("detail", "")))
    if "encounter" not in answer:  # boarding: match or no match and the token, nothing else
        return JSONResponse({"match": answer["match"],
                             "boarding_token": answer["boarding_token"]})
    replayed = bool(answer.get("replayed"))
    return JSONResponse(answer["encounter"], status_code=200 if replayed else 201,
                        headers={"Idempotent-Replayed": "true"} if replayed else None)
