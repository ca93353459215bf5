"""Vehicle encounters: a lane event uploaded as JSON plus named frames, decided by the lane
core (``bordermatch.lane.pipeline``) against a stored gallery, and recorded.

The upload is checked and decoded in memory (``lane.events``: the same event rules as an
event folder), never written out. The frames are not retained; each occupant's best face
is (cut from its frame, with its template), under the same retention as a gate capture, so
an officer reviewing the vehicle sees the faces that were decided on. The lane decides at
the service's 1:N operating point, on the same calibrated scale as gates; the event's
``documents`` (DESIGN.md) are verified 1:few first, against the travellers of this gallery
whose documents they name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np

from bordermatch.errors import EventError, RecordStateError, TooManyFacesError
from bordermatch.io.images import encode_png
from bordermatch.lane.events import (
    DecodedFrames,
    FrameRef,
    LaneEvent,
    LaneEventError,
    decode_frames,
    frame_ref,
    parse_event,
)
from bordermatch.lane.pipeline import LanePipeline
from bordermatch.service.core import EncounterResult, PutBlob, ServiceCore, decision_basis
from bordermatch.store import repo
from bordermatch.store.keys import Principal
from bordermatch.types import Image, LaneResult, Occupant, Reason

MAX_FRAMES = 64
# Event-level problems the device must fix; a vehicle with them is refused, not recorded.
_EVENT_ERRORS = {"bad_event_json", "unknown_camera", "bad_frame_name", "empty_event",
                 "unreadable_frames"}


def read_upload(event: str, frames: Sequence[tuple[str, bytes]],
                ) -> tuple[LaneEvent, dict[tuple[str, int], bytes]]:
    """The uploaded event and its frame bytes by (camera, seq); EventError when malformed."""
    try:
        meta = json.loads(event)
    except json.JSONDecodeError as exc:
        raise EventError(f"event is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise EventError("event JSON is nested too deeply") from None
    if not frames:
        raise EventError("no frames")
    if len(frames) > MAX_FRAMES:
        raise EventError(f"more than {MAX_FRAMES} frames")
    refs: list[FrameRef] = []
    data: dict[tuple[str, int], bytes] = {}
    try:
        for name, blob in frames:
            ref = frame_ref(name)
            if (ref.camera, ref.seq) in data:
                raise EventError(f"frame {name!r} appears twice")
            refs.append(ref)
            data[(ref.camera, ref.seq)] = blob
        parsed = parse_event(meta, refs)
    except LaneEventError as exc:
        raise EventError(f"lane event refused: {exc}") from None
    return parsed, data


def vehicle_encounter(core: ServiceCore, who: Principal, gallery_id: str, event: str,
                      frames: Sequence[tuple[str, bytes]], idempotency_key: str | None,
                      request_hash: str) -> EncounterResult:
    replay = core.replay(who, idempotency_key, request_hash)
    if replay is not None:
        return replay
    parsed, data = read_upload(event, frames)
    who.check_lane(parsed.lane)
    with core.sessions() as s:
        repo.serving_gallery(s, who, gallery_id, parsed.lane, core.clock.now())
        aliases = repo.open_alias_pairs(s, gallery_id)
    stored = core.gallery(gallery_id)
    if not stored.owners:
        raise RecordStateError(f"gallery {gallery_id} has no enrolled templates")
    engine = core.engine
    th = core.thresholds
    # With a shared index each vehicle is decided on its shortlist (service.galleries).
    shared = core.shared_index is not None
    lane = stored.lane(core.settings.vehicle_search_candidates if shared else None)
    pipeline = LanePipeline(engine.detector, engine.embedder(core.model), engine.quality,
                            lane, th.search, th.scale, aliases=aliases,
                            documents=stored.documents, document_point=th.document,
                            document_fallback=th.document_fallback)

    def decode(fr: FrameRef) -> Image:
        return core.decode(data[(fr.camera, fr.seq)], f"frame {fr.name}")

    decoded = decode_frames(pipeline.frames_needed(parsed), decode)
    result = pipeline.process(parsed, decoded)
    if result.error and result.error.split(":")[0] in _EVENT_ERRORS and not result.occupants:
        raise EventError(f"lane event refused: {result.error}: {result.error_detail}")
    if len(result.occupants) > core.settings.max_vehicle_occupants:
        raise TooManyFacesError(f"{len(result.occupants)} occupants tracked; a vehicle may "
                                f"hold at most {core.settings.max_vehicle_occupants}")
    records: list[repo.OccupantRecord] = []

    def write(put: PutBlob) -> None:
        def crop(o: Occupant) -> Image | None:
            return _best_face(pipeline, parsed, decoded, o)

        records.extend(_records(core, result, crop, put))

    return core.commit(who, gallery_id, parsed.lane, parsed.direction, "vehicle",
                       records, idempotency_key, request_hash, write,
                       event_ref=parsed.event_id[:200], latency_ms=result.latency_ms,
                       unmatched_documents=sorted(set(result.documents_unmatched)))


def _best_face(pipeline: LanePipeline, event: LaneEvent, frames: DecodedFrames,
               o: Occupant) -> Image | None:
    """The occupant's best face, cut from its frame (None when it has none)."""
    if o.best_shot is None:
        return None
    fr = pipeline.frame_ref(event, o.best_shot.camera, o.best_shot.frame)
    image = frames.images.get((fr.camera, fr.seq))
    if image is None:
        return None
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(np.rint(v)) for v in o.best_shot.box)
    face = image[max(0, y1):min(h, y2), max(0, x1):min(w, x2)]
    return np.ascontiguousarray(face) if face.size else None


def _records(core: ServiceCore, result: LaneResult, crop: Callable[[Occupant], Image | None],
             put: PutBlob) -> list[repo.OccupantRecord]:
    """One row per occupant. Each keeps its best face and that face's template, under the
    retention of a gate capture, so an officer reviewing the vehicle sees who was in it."""
    now = core.clock.now()
    travelers = core.travelers([o.traveler_id for o in result.occupants])
    records = []
    for o in result.occupants:
        t = travelers.get(o.traveler_id) if o.traveler_id else None
        decision, reason = o.decision.value, o.reason
        if t is not None and t.opted_out:
            decision, reason = "manual_inspection", Reason.OPTED_OUT.value
        seat = o.seat
        row = int(seat[1]) if seat and seat[:1] == "r" and seat[1:2].isdigit() else None
        capture = template = None
        if decision != "manual_inspection":  # an opted-out traveller keeps no face
            face = crop(o)
            capture = put(encode_png(face), "image") if face is not None else None
            vector = o.best_shot.vector if o.best_shot is not None else None
            if capture is not None and vector is not None:
                template = put(np.asarray(vector, np.float32).tobytes(), "template")
        measures = o.best_shot.measures if o.best_shot is not None else None
        basis = (decision_basis(core, o.detail, o.source, measures) if o.detail is not None
                 else None)
        if basis is not None and reason != o.detail.reason.value:  # type: ignore[union-attr]
            basis["reason"] = reason
        records.append(repo.OccupantRecord(
            o.track_id, o.traveler_id, o.score, decision, o.quality, row=row, seat=seat,
            capture_blob=capture, template_blob=template,
            purge_after=core.retention_until(now, t.citizen if t else None)
            if capture else None, reason=reason, source=o.source,
            runner_up_id=o.runner_up_id, basis=basis))
    if not records:
        records.append(repo.OccupantRecord(0, None, None, "no_capture", None,
                                           reason=Reason.NO_CAPTURE.value))
    return records
