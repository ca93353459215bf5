"""The encounter message that lane and gate devices publish to the broker.

One JSON object per message (``content_type: application/json``), images base64-encoded so
the message is self-contained and replayable from the dead-letter queue:

    {"v": 1, "kind": "gate" | "board" | "vehicle" | "opt_out",
     "encounter_id": "<the device's unique id for this encounter>",
     "gallery_id": "...", "lane": "...", "direction": "entry" | "exit",
     "photo": "<base64 JPEG/PNG>"                       (gate, board)
     "event": "<event.json as a string>",               (vehicle; docs/formats.md)
     "frames": [{"name": "ws/0000_0.jpg", "data": "<base64>"}, ...]   (vehicle)
     "traveler_id": "..."}                              (opt_out)

The API key travels in the AMQP header ``authorization`` (``Bearer bmk_...``) and is checked
for every message exactly as the HTTP routes check it. ``encounter_id`` is the idempotency
key: a redelivered message replays the first record instead of writing a second one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bordermatch.errors import InputError

VERSION = 1
# Which roles may submit each kind: the same as the HTTP routes (tests/api/test_api_auth.py).
KIND_ROLES: dict[str, tuple[str, ...]] = {
    "gate": ("gate_device",),
    "board": ("airline_partner",),
    "vehicle": ("lane_device",),
    "opt_out": ("gate_device", "lane_device", "officer"),
}
DIRECTIONS = ("entry", "exit")
MAX_FRAMES = 64


class MessageError(InputError):
    """A message that no retry can fix: it goes to the dead-letter queue at once."""

    code = "bad_message"


@dataclass(frozen=True)
class EncounterMessage:
    kind: str
    encounter_id: str
    gallery_id: str
    lane: str = ""
    direction: str = "entry"
    traveler_id: str = ""
    event: str = ""
    photo: bytes = b""
    frames: tuple[tuple[str, bytes], ...] = field(default=())

    def encode(self) -> bytes:
        body: dict[str, Any] = {"v": VERSION, "kind": self.kind,
                                "encounter_id": self.encounter_id,
                                "gallery_id": self.gallery_id, "lane": self.lane,
                                "direction": self.direction}
        if self.kind in ("gate", "board"):
            body["photo"] = base64.b64encode(self.photo).decode()
        elif self.kind == "vehicle":
            body["event"] = self.event
            body["frames"] = [{"name": n, "data": base64.b64encode(d).decode()}
                              for n, d in self.frames]
        else:
            body["traveler_id"] = self.traveler_id
        return json.dumps(body, separators=(",", ":")).encode()


def vehicle_message(folder: Path, gallery_id: str) -> EncounterMessage:
    """An event folder (docs/formats.md) as the vehicle message its lane device publishes;
    ``encounter_id`` is the event's id."""
    from bordermatch.lane.events import read_event

    ev = read_event(folder)
    frames = tuple((f"{fr.camera}/{fr.path.name}", fr.path.read_bytes())
                   for fr in ev.frames if fr.path is not None)
    return EncounterMessage("vehicle", ev.event_id, gallery_id, lane=ev.lane,
                            direction=ev.direction, event=(folder / "event.json").read_text(),
                            frames=frames)


def _text(body: Mapping[str, Any], key: str, limit: int, required: bool = True) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise MessageError(f"message.{key} must be a string")
    if required and not value:
        raise MessageError(f"message.{key} is required")
    if len(value) > limit or not value.isprintable():
        raise MessageError(f"message.{key} must be at most {limit} printable characters")
    return value


def _b64(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise MessageError(f"{where} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MessageError(f"{where} is not valid base64") from None


def decode(raw: bytes, max_bytes: int) -> EncounterMessage:
    """A message from the wire, refused with :class:`MessageError` (and its field) when it
    is not one. Image content and the event's own fields are checked later, by the same
    functions the HTTP routes use."""
    if len(raw) > max_bytes:
        raise MessageError(f"message of {len(raw)} bytes exceeds {max_bytes}")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise MessageError("message is not valid JSON") from None
    if not isinstance(body, dict):
        raise MessageError("message must be a JSON object")
    if body.get("v") != VERSION:
        raise MessageError(f"message.v must be {VERSION}")
    kind = body.get("kind")
    if kind not in KIND_ROLES:
        raise MessageError(f"message.kind must be one of {', '.join(KIND_ROLES)}")
    direction = _text(body, "direction", 8, required=False) or "entry"
    if direction not in DIRECTIONS:
        raise MessageError("message.direction must be entry or exit")
    common = dict(kind=kind, encounter_id=_text(body, "encounter_id", 200),
                  gallery_id=_text(body, "gallery_id", 64), direction=direction)
    if kind in ("gate", "board"):
        return EncounterMessage(**common, lane=_text(body, "lane", 64),
                                photo=_b64(body.get("photo"), "message.photo"))
    if kind == "opt_out":
        return EncounterMessage(**common, lane=_text(body, "lane", 64),
                                traveler_id=_text(body, "traveler_id", 64))
    frames = body.get("frames")
    if not isinstance(frames, list) or not frames or len(frames) > MAX_FRAMES:
        raise MessageError(f"message.frames must be a list of 1-{MAX_FRAMES} frames")
    decoded = []
    for i, fr in enumerate(frames):
        if not isinstance(fr, dict):
            raise MessageError(f"message.frames[{i}] must be an object")
        decoded.append((_text(fr, "name", 200), _b64(fr.get("data"), f"message.frames[{i}]"
                                                                      ".data")))
    event = body.get("event")
    if not isinstance(event, str) or not event:
        raise MessageError("message.event must be the event.json text")
    # A vehicle's lane is the one in event.json; the message's copy only labels it.
    return EncounterMessage(**common, lane=_text(body, "lane", 64, required=False),
                            event=event, frames=tuple(decoded))


def bearer(headers: Mapping[str, Any] | None) -> str:
    """The API key of a message's ``authorization`` header ('' when there is none)."""
    value = (headers or {}).get("authorization", "")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
