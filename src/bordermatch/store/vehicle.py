"""Vehicle encounters: a lane event uploaded as JSON plus frames, run through the lane
pipeline (``bordermatch.lane.pipeline``) against a stored gallery, and recorded.

The upload is laid out as the DESIGN.md event folder in a private temporary directory (names
checked first, so nothing escapes it), processed, and removed. Vehicle captures are not
retained: the pipeline's decision, score and quality are stored, the frames are not, which
keeps the retention surface to the gate photos and enrolments.

Thresholds: the lane's own open-set file (``lane/open_set_<model>.json``, calibrated on
simulated lanes for a target FPIR) when it exists; otherwise the service's calibrated 1:1
thresholds mapped back to cosine, which is stricter per comparison but not FPIR-calibrated.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bordermatch.errors import EventError, RecordStateError
from bordermatch.store import repo
from bordermatch.store.keys import Principal

_CAMERA = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FRAME = re.compile(r"(\d{4})_(\d{1,10})\.(jpe?g|png)", re.IGNORECASE)
_EVENT_ERRORS = {"bad_event_json", "unknown_camera", "bad_frame_name", "empty_event",
                 "unreadable_frames", "event_json"}
MAX_FRAMES = 64


def _layout(root: Path, event: str, frames: Sequence[tuple[str, bytes]]) -> Path:
    try:
        meta = json.loads(event)
    except json.JSONDecodeError as exc:
        raise EventError(f"event is not valid JSON: {exc.msg}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("event_id"), str):
        raise EventError("event must be a JSON object with a string event_id")
    if not frames:
        raise EventError("no frames")
    if len(frames) > MAX_FRAMES:
        raise EventError(f"more than {MAX_FRAMES} frames")
    folder = root / "event"
    (folder / "frames").mkdir(parents=True)
    (folder / "event.json").write_text(json.dumps(meta))
    for name, data in frames:
        camera, sep, fname = name.partition("/")
        if not sep or not _CAMERA.fullmatch(camera) or not _FRAME.fullmatch(fname):
            raise EventError(f"frame {name!r} must be named <camera_id>/<seq:04d>_<t_ms>.jpg")
        path = folder / "frames" / camera / fname
        if path.exists():
            raise EventError(f"frame {name!r} appears twice")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    return folder


def _thresholds(svc):
    from bordermatch.lane.runner import default_thresholds_path
    from bordermatch.match.search import OpenSetThresholds

    path = default_thresholds_path(svc.model)
    if Path(path).is_file():
        return OpenSetThresholds.load(path)
    weight = dict(svc.scorer.primary.weights)[svc.model]
    bias = svc.scorer.primary.bias

    def cosine(t: float) -> float:
        return (t - bias) / weight

    review = svc.review_threshold if svc.review_threshold is not None else svc.match_threshold
    return OpenSetThresholds(model=svc.model, match=cosine(svc.match_threshold),
                             review=cosine(review), target_fpir=float("nan"),
                             review_fpir=float("nan"), nonmated_searches=0,
                             source="service 1:1 calibration (no lane open-set file)")


def vehicle_encounter(svc, who: Principal, gallery_id: str, event: str,
                      frames: Sequence[tuple[str, bytes]], idempotency_key: str | None,
                      request_hash: str):
    from bordermatch.lane.pipeline import LanePipeline
    from bordermatch.match.search import GallerySearch

    replay = svc._replay(who, idempotency_key, request_hash)
    if replay is not None:
        return replay
    with svc.sessions() as s:
        repo.usable_gallery(s, gallery_id, svc.clock.now())
    engine = svc.engine
    ids, vectors = svc.gallery_matrix(gallery_id)
    if not ids:
        raise RecordStateError(f"gallery {gallery_id} has no enrolled templates")
    pipeline = LanePipeline(engine.detector, engine.embedder(svc.model), engine.quality,
                            GallerySearch(ids, vectors), _thresholds(svc),
                            limits=svc.settings.limits)
    with tempfile.TemporaryDirectory(prefix="bm-event-") as tmp:
        folder = _layout(Path(tmp), event, frames)
        result = pipeline.process(folder)
        meta = json.loads((folder / "event.json").read_text())
    if result.error and result.error.split(":")[0] in _EVENT_ERRORS and not result.occupants:
        raise EventError(f"lane event refused: {result.error}")
    with svc.sessions() as s:
        travelers = repo.travelers_by_id(s, [o.traveler_id for o in result.occupants
                                             if o.traveler_id])
    records = []
    for o in result.occupants:
        t = travelers.get(o.traveler_id) if o.traveler_id else None
        decision = o.decision.value
        if t is not None and t.opted_out:
            decision = "manual_inspection"
        seat = o.seat
        row = int(seat[1]) if seat and seat[:1] == "r" and seat[1:2].isdigit() else None
        score = svc._calibrated(o.score) if o.score is not None else None
        records.append(repo.OccupantRecord(o.track_id, o.traveler_id, score, decision,
                                           o.quality, row=row, seat=seat))
    if not records:
        records.append(repo.OccupantRecord(0, None, None, "no_capture", None))
    return svc._commit(who, gallery_id, str(meta.get("lane", "")), str(meta.get("direction")),
                       "vehicle", records, idempotency_key, request_hash, lambda put: None,
                       event_ref=str(meta["event_id"])[:200], latency_ms=result.latency_ms)
