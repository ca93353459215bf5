"""``bordermatch worker``: consume encounter messages, run the pipeline, commit the record,
and only then acknowledge.

Delivery is at least once. A worker killed after its commit and before its ack leaves the
message to be redelivered; the second delivery finds the record by the message's
``encounter_id`` (the Idempotency-Key of the one commit path, ``service/core.py``) and acks
without writing again. Three outcomes per message:

* done: committed (or replayed), acknowledged; a ``reply_to`` gets the device's answer.
* dead: no retry can fix it (a malformed message, a bad image, a refused key or role, a
  closed gallery): published to ``<queue>.dead`` with its reason, then acknowledged.
* retry: anything else (the database away, a bug): requeued. The quorum queue counts
  deliveries; the last allowed try dead-letters with the error instead of requeueing, and
  the queue's own ``x-delivery-limit`` catches a message that crashes every worker.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from bordermatch.errors import InputError, PermissionRefused
from bordermatch.ingest import broker, messages
from bordermatch.ingest.exporter import WorkerMetrics
from bordermatch.service import BorderService, EncounterResult
from bordermatch.store import authlimit, keys
from bordermatch.store.keys import Principal

log = logging.getLogger(__name__)
SOURCE = "broker"


class Unauthenticated(PermissionRefused):
    def __init__(self, message: str) -> None:
        super().__init__(message, "unauthenticated")


@dataclass(frozen=True)
class Outcome:
    status: Literal["done", "dead", "retry"]
    reason: str = ""
    detail: str = ""
    result: EncounterResult | None = None
    who: Principal | None = None
    http_status: int = 200  # what the HTTP route would have answered (for reply_to)


class Worker:
    def __init__(self, service: BorderService, topology: broker.Topology,
                 metrics: WorkerMetrics | None = None) -> None:
        self.service = service
        self.topology = topology
        self.where = f"amqp:{topology.queue}"
        self.metrics = metrics

    # -- one message, no broker ------------------------------------------------------------
    def handle(self, body: bytes, headers: dict[str, Any] | None) -> Outcome:
        who = None
        try:
            msg = messages.decode(body, self.service.settings.max_request_bytes)
            who = self._principal(messages.bearer(headers))
            if who.role not in messages.KIND_ROLES[msg.kind]:
                raise PermissionRefused(f"role {who.role} may not submit {msg.kind} "
                                        "encounters")
            result = self._dispatch(who, msg)
        except Unauthenticated as exc:
            return Outcome("dead", exc.code, str(exc), http_status=401)
        except PermissionRefused as exc:
            assert who is not None
            try:
                authlimit.audit_refusal(self.service.sessions, self.service.clock.now(), who,
                                        f"auth.{exc.code}", self.where, SOURCE)
            except Exception as audit_exc:  # the refusal must be audited: try again later
                log.exception("auditing a refusal failed; the message will be retried")
                return Outcome("retry", type(audit_exc).__name__, str(audit_exc)[:500],
                               who=who, http_status=503)
            return Outcome("dead", exc.code, str(exc), who=who, http_status=403)
        except InputError as exc:
            from bordermatch.api.problems import status_for

            return Outcome("dead", exc.code, str(exc), who=who, http_status=status_for(exc))
        except Exception as exc:  # transient or a bug: retried, then dead-lettered
            log.exception("message failed; it will be retried")
            return Outcome("retry", type(exc).__name__, str(exc)[:500], who=who,
                           http_status=503)
        return Outcome("done", result=result, who=who)

    def _principal(self, token: str) -> Principal:
        with self.service.sessions() as s:
            who = keys.authenticate(s, token) if token else None
        if who is None:
            # Counted and audited like a failed HTTP key, per broker rather than per address.
            authlimit.record_failure(
                self.service.sessions, self.service.clock.now(), SOURCE,
                authlimit.Policy.from_settings(self.service.settings),
                authlimit.claimed_key_id(token), "invalid_key" if token else "no_key",
                self.where)
            raise Unauthenticated("the message carries no valid API key")
        return who

    def _dispatch(self, who: Principal, msg: messages.EncounterMessage) -> EncounterResult:
        from bordermatch.api.deps import check_event, check_image, request_hash
        from bordermatch.io.images import decode_slot

        svc, settings = self.service, self.service.settings
        key = msg.encounter_id
        digest = request_hash("amqp", msg.encode())

        if msg.kind == "opt_out":
            return svc.opt_out_encounter(who, msg.gallery_id, msg.lane, msg.direction,
                                         msg.traveler_id, key, digest)
        if msg.kind == "vehicle":
            check_event(msg.event, settings)
            frames = [(n, check_image(d, settings, settings.frame_max_pixels, "frame"))
                      for n, d in msg.frames]
            with decode_slot(settings.limits):
                return svc.vehicle_encounter(who, msg.gallery_id, msg.event, frames, key,
                                             digest)
        photo = check_image(msg.photo, settings, settings.gate_max_pixels, "photo")
        with decode_slot(settings.limits):
            if msg.kind == "board":
                return svc.board(who, msg.gallery_id, msg.lane, photo, key, digest)
            return svc.gate_encounter(who, msg.gallery_id, msg.lane, msg.direction, photo,
                                      key, digest)

    # -- the consume loop ------------------------------------------------------------------
    def run(self, url: str, max_messages: int | None = None,
            stop: threading.Event | None = None) -> int:
        """Consume until ``stop`` is set, SIGTERM arrives or ``max_messages`` were handled;
        returns how many were handled."""
        backoff = self.service.settings.ingest_retry_backoff_s
        stopping = stop or threading.Event()
        handled = 0

        def on_message(channel: Any, method: Any, props: Any, body: bytes) -> None:
            nonlocal handled
            headers = dict(props.headers or {})
            tries = int(headers.get("x-delivery-count") or 0) + 1
            print(f"start {props.message_id} try {tries}", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            outcome = broker.beside_heartbeats(channel, lambda: self.handle(body, headers))
            if self.metrics is not None:
                self.metrics.record(outcome, time.perf_counter() - t0)
            if outcome.status == "retry" and tries < self.topology.max_deliveries:
                # Back off before handing it back: a database restart of a few seconds must
                # not use up every try in milliseconds. reject, not nack: it is what counts
                # a delivery on every RabbitMQ version.
                channel.connection.sleep(min(backoff * 2 ** (tries - 1), 30.0))
                channel.basic_reject(method.delivery_tag, requeue=True)
            else:
                if outcome.status != "done":
                    reason = outcome.reason if outcome.status == "dead" else \
                        f"failed {tries} times: {outcome.reason}"
                    headers.update({"x-bordermatch-reason": reason,
                                    "x-bordermatch-detail": outcome.detail[:1000]})
                    broker.publish(channel, self.topology.dead, body, headers,
                                   message_id=props.message_id)
                if props.reply_to:
                    # Not mandatory: a requester that gave up has nobody to answer, and
                    # RabbitMQ returns direct replies as unroutable even when it delivers them.
                    broker.publish(channel, props.reply_to, _answer(outcome),
                                   correlation_id=props.correlation_id, mandatory=False)
                channel.basic_ack(method.delivery_tag)
            print(f"{outcome.status} {props.message_id} {outcome.reason}".rstrip(),
                  file=sys.stderr, flush=True)
            handled += 1
            if max_messages is not None and handled >= max_messages:
                stopping.set()

        broker.consume(url, self.topology, on_message, stopping, "bordermatch worker")
        return handled


def _answer(outcome: Outcome) -> bytes:
    """What a device waiting on ``reply_to`` gets: the HTTP route's answer, as JSON."""
    if outcome.status != "done" or outcome.result is None:
        # A failure of ours is not the device's business: its text stays in the log and the
        # dead-letter header, as the HTTP route keeps 5xx details out of its answers.
        server_side = outcome.http_status >= 500
        return json.dumps({"status": outcome.status,
                           "code": "unavailable" if server_side else outcome.reason,
                           "detail": "the service cannot handle this request now"
                           if server_side else outcome.detail,
                           "http_status": outcome.http_status}).encode()
    from bordermatch.api.routes.encounters import DEVICE_ROLES, encounter_out

    r = outcome.result
    if r.encounter.kind == "board":  # the airline learns match or no match, nothing else
        return json.dumps({"status": "done", "match": r.encounter.event_ref is not None,
                           "boarding_token": r.encounter.event_ref}).encode()
    redact = outcome.who is not None and outcome.who.role in DEVICE_ROLES
    body = encounter_out(r.encounter, r.occupants, redact).model_dump(mode="json")
    return json.dumps({"status": "done", "replayed": r.replayed, "encounter": body}).encode()
