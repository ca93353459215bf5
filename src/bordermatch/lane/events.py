"""Read and write the lane interchange formats of DESIGN.md (events directory, results JSONL).

An event folder holds ``event.json``, ``frames/<camera_id>/<seq:04d>_<t_ms>.jpg`` and,
for evaluation only, ``truth.json``. The service receives the same event as JSON plus named
frame uploads; both become one :class:`LaneEvent` through :func:`parse_event`, and frames
are decoded here (:func:`decode_frames`) so that the pipeline only sees arrays. Every
problem with one event raises :class:`LaneEventError` with a stable ``reason`` so the run
can record it in that event's result and go on with the next event; its ``detail`` says
where (the field of event.json, the camera, the frame). A misnamed or unreadable frame of
an event folder is not such a problem: it is skipped and listed (:class:`SkippedFrame`),
and the vehicle is decided from the other frames.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bordermatch.errors import EventError, InputError
from bordermatch.types import Image, LaneResult

DIRECTIONS = ("exit", "entry")
DOCUMENT_SOURCES = ("rfid", "mrz", "chip")
MAX_DOCUMENTS = 32  # more reads than seats, with margin for the next lane's cards
SEATS = ("r1-left", "r1-right", "r2-left", "r2-middle", "r2-right", "r3-left", "r3-right")
FRAME_NAME = re.compile(r"^(\d{4})_(\d+)\.(jpe?g|png)$", re.IGNORECASE)


class LaneEventError(EventError):
    """An event that cannot be processed; ``reason`` is a stable machine-readable string."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SkippedFrame:
    """A frame left out of an event: its camera, file name and why."""

    camera: str
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    view: str


@dataclass(frozen=True, slots=True)
class DocumentRead:
    """A travel document read as the vehicle approached (RFID card, booth MRZ or chip)."""

    document_type: str
    document_number: str
    nationality: str
    source: str  # one of DOCUMENT_SOURCES

    @property
    def key(self) -> tuple[str, str]:
        """What names a document across a gallery: (document_number, nationality)."""
        return (self.document_number, self.nationality)


@dataclass(frozen=True, slots=True)
class FrameRef:
    camera: str
    seq: int
    t_ms: int
    path: Path | None  # None for an uploaded frame (its bytes travel beside the event)

    @property
    def name(self) -> str:
        return f"{self.camera}/{self.seq:04d}_{self.t_ms}"


@dataclass(frozen=True, slots=True)
class LaneEvent:
    event_id: str
    lane: str
    direction: str
    started_at: str
    cameras: tuple[Camera, ...]
    frames: tuple[FrameRef, ...]
    folder: Path | None = None
    documents: tuple[DocumentRead, ...] = ()
    skipped: tuple[SkippedFrame, ...] = ()  # misnamed frames of an event folder


@dataclass(frozen=True, slots=True, eq=False)
class DecodedFrames:
    """The decoded frames of one event by (camera, seq), and those that failed, with why."""

    images: Mapping[tuple[str, int], Image]
    failed: Mapping[tuple[str, int], SkippedFrame] = field(default_factory=dict)
    decode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class TruthOccupant:
    traveler_id: str | None
    seat: str
    document_read: bool | None = None  # simulated lanes: whether their document was read

    @property
    def row(self) -> int:
        return int(self.seat[1])


def event_folders(events_dir: Path) -> list[Path]:
    """Every sub-folder of the events directory, sorted by name (the event order)."""
    events_dir = Path(events_dir)
    if not events_dir.is_dir():
        raise EventError(f"{events_dir}: events directory not found")
    return sorted(p for p in events_dir.iterdir() if p.is_dir())


def read_event(folder: Path) -> LaneEvent:
    """Parse and check one event folder; frames are listed, not decoded."""
    folder = Path(folder)
    meta = _read_json(folder / "event.json", "event_json")
    cameras = _check_meta(meta)
    frames, skipped = _list_frames(folder / "frames", {c.id for c in cameras})
    return _event(meta, cameras, frames, folder, skipped)


def parse_event(meta: object, frames: Sequence[FrameRef], folder: Path | None = None,
                ) -> LaneEvent:
    """Check an event.json object and its frames (DESIGN.md), whatever they came from."""
    cameras = _check_meta(meta)
    assert isinstance(meta, dict)  # _check_meta raised otherwise
    known = {c.id for c in cameras}
    for fr in frames:
        if fr.camera not in known:
            raise LaneEventError("unknown_camera", f"frame {fr.name}: camera "
                                 f"{fr.camera!r} not listed in the event's cameras")
    return _event(meta, cameras, frames, folder)


def _event(meta: dict, cameras: list[Camera], frames: Sequence[FrameRef],
           folder: Path | None, skipped: Sequence[SkippedFrame] = ()) -> LaneEvent:
    if not frames:
        detail = "no frames" if not skipped else (
            f"no usable frames; skipped {len(skipped)}: "
            + "; ".join(f"{s.camera}/{s.file} ({s.reason})" for s in skipped[:5]))
        raise LaneEventError("empty_event", detail)
    return LaneEvent(meta["event_id"], meta["lane"], meta["direction"], meta["started_at"],
                     tuple(cameras), tuple(sorted(frames, key=lambda f: (f.camera, f.seq))),
                     folder, _documents(meta.get("documents", [])), tuple(skipped))


def _documents(raw: object) -> tuple[DocumentRead, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_DOCUMENTS:
        raise LaneEventError("bad_event_json", f"event.json 'documents' must be a list of "
                             f"at most {MAX_DOCUMENTS} reads")
    out = []
    for i, doc in enumerate(raw):
        fields = ("document_type", "document_number", "nationality", "source")
        if not (isinstance(doc, dict) and all(isinstance(doc.get(f), str) and doc[f]
                                              and len(doc[f]) <= 64 for f in fields)):
            raise LaneEventError("bad_event_json", f"event.json documents[{i}] needs non-empty "
                                 "strings "
                                 f"{', '.join(fields)} (at most 64 characters)")
        if doc["source"] not in DOCUMENT_SOURCES:
            raise LaneEventError("bad_event_json", f"event.json documents[{i}].source "
                                 f"{doc['source']!r} not in {DOCUMENT_SOURCES}")
        out.append(DocumentRead(*(doc[f] for f in fields)))
    return tuple(out)


def _check_meta(meta: object) -> list[Camera]:
    """The cameras of a valid event.json object; LaneEventError naming the first problem."""
    if not isinstance(meta, dict):
        raise LaneEventError("bad_event_json", "event.json is not an object")
    for key, kind in (("event_id", str), ("lane", str), ("direction", str),
                      ("started_at", str), ("cameras", list)):
        if not isinstance(meta.get(key), kind):
            raise LaneEventError("bad_event_json", f"event.json field {key!r} missing or not "
                                 f"{kind.__name__}")
    if meta["direction"] not in DIRECTIONS:
        raise LaneEventError("bad_event_json", f"event.json direction "
                             f"{meta['direction']!r} not in {DIRECTIONS}")
    try:
        datetime.fromisoformat(meta["started_at"])
    except ValueError:
        raise LaneEventError("bad_event_json", f"event.json started_at "
                             f"{meta['started_at'][:40]!r} is not ISO-8601") from None
    cameras = []
    for i, cam in enumerate(meta["cameras"]):
        if not (isinstance(cam, dict) and isinstance(cam.get("id"), str)
                and isinstance(cam.get("view"), str) and cam["id"]):
            raise LaneEventError("bad_event_json",
                                 f"event.json cameras[{i}] needs a non-empty string id and "
                                 f"a string view, got {str(cam)[:60]}")
        cameras.append(Camera(cam["id"], cam["view"]))
    seen: set[str] = set()
    for i, c in enumerate(cameras):
        if c.id in seen:
            raise LaneEventError("bad_event_json", f"event.json cameras[{i}]: duplicate "
                                 f"camera id {c.id!r}")
        seen.add(c.id)
    return cameras


def frame_ref(name: str, path: Path | None = None) -> FrameRef:
    """``<camera_id>/<seq:04d>_<t_ms>.jpg`` as a FrameRef (LaneEventError if misnamed)."""
    camera, sep, fname = name.partition("/")
    m = FRAME_NAME.match(fname)
    if not sep or not camera or m is None:
        raise LaneEventError("bad_frame_name",
                             f"{name!r} is not <camera_id>/<seq:04d>_<t_ms>.jpg")
    return FrameRef(camera, int(m.group(1)), int(m.group(2)), path)


def decode_frames(refs: Sequence[FrameRef], decode: Callable[[FrameRef], Image]) -> DecodedFrames:
    """Decode each frame with ``decode``; a frame that fails is recorded with its reason."""
    start = time.perf_counter()
    images: dict[tuple[str, int], Image] = {}
    failed: dict[tuple[str, int], SkippedFrame] = {}
    for fr in refs:
        try:
            images[(fr.camera, fr.seq)] = decode(fr)
        except InputError as exc:  # a busy or broken process is not an unreadable frame
            file = fr.path.name if fr.path is not None else fr.name.partition("/")[2]
            failed[(fr.camera, fr.seq)] = SkippedFrame(fr.camera, file, f"{exc.code}: {exc}")
    return DecodedFrames(images, failed, (time.perf_counter() - start) * 1000.0)


def _list_frames(frames_dir: Path, camera_ids: set[str],
                 ) -> tuple[list[FrameRef], list[SkippedFrame]]:
    """The well-named frames of an event folder, and the files skipped (misnamed or not a
    file): a camera that wrote one odd file name has still seen the vehicle."""
    if not frames_dir.is_dir():
        return [], []
    frames, skipped = [], []
    for cam_dir in sorted(p for p in frames_dir.iterdir()):
        if not cam_dir.is_dir():
            continue
        if cam_dir.name not in camera_ids:
            raise LaneEventError("unknown_camera", f"frames/{cam_dir.name}/: camera "
                                 f"{cam_dir.name!r} not listed in event.json")
        for f in sorted(cam_dir.iterdir()):
            if not f.is_file():
                skipped.append(SkippedFrame(cam_dir.name, f.name, "not a file"))
                continue
            try:
                frames.append(frame_ref(f"{cam_dir.name}/{f.name}", f))
            except LaneEventError as exc:
                skipped.append(SkippedFrame(cam_dir.name, f.name,
                                            f"{exc.reason}: not <seq:04d>_<t_ms>.jpg"))
    return frames, skipped


def read_truth(folder: Path) -> tuple[TruthOccupant, ...]:
    truth = _read_json(Path(folder) / "truth.json", "truth_json")
    occupants = truth.get("occupants") if isinstance(truth, dict) else None
    if not isinstance(occupants, list):
        raise LaneEventError("bad_truth_json", "truth.json needs an 'occupants' list")
    out: list[TruthOccupant] = []
    for occ in occupants:
        tid = occ.get("traveler_id") if isinstance(occ, dict) else 0
        seat = occ.get("seat") if isinstance(occ, dict) else None
        read = occ.get("document_read") if isinstance(occ, dict) else None
        if not (tid is None or isinstance(tid, str)) or seat not in SEATS \
                or not (read is None or isinstance(read, bool)):
            raise LaneEventError("bad_truth_json", f"truth.json occupants[{len(out)}]: needs "
                                 f"traveler_id (string or null) and a seat in {SEATS}, "
                                 f"got {str(occ)[:80]}")
        out.append(TruthOccupant(tid, seat, read))
    return tuple(out)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LaneEventError(f"missing_{what}", f"{path.name} not found") from None
    except json.JSONDecodeError as exc:
        raise LaneEventError(f"bad_{what}", f"{path.name} line {exc.lineno} column "
                             f"{exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LaneEventError(f"bad_{what}", f"{path.name} unreadable ({exc})") from None


def write_event(folder: Path, event_id: str, cameras: list[tuple[str, str]], *,
                lane: str = "lane-1", direction: str = "entry",
                started_at: str = "2026-01-01T00:00:00+00:00",
                documents: Sequence[DocumentRead] = ()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "event_id": event_id, "lane": lane, "direction": direction, "started_at": started_at,
        "cameras": [{"id": c, "view": v} for c, v in cameras]}
    if documents:
        meta["documents"] = [{"document_type": d.document_type,
                              "document_number": d.document_number,
                              "nationality": d.nationality, "source": d.source}
                             for d in documents]
    (folder / "event.json").write_text(json.dumps(meta, indent=1))


def frame_path(folder: Path, camera: str, seq: int, t_ms: int) -> Path:
    return folder / "frames" / camera / f"{seq:04d}_{t_ms}.jpg"


def result_to_json(result: LaneResult) -> dict[str, Any]:
    """The DESIGN.md results line; ``error`` and ``timings_ms`` only when present."""
    row: dict[str, Any] = {
        "event_id": result.event_id,
        "occupants": [
            {"track_id": o.track_id, "traveler_id": o.traveler_id,
             "score": None if o.score is None else round(o.score, 5),
             "decision": o.decision.value,
             "quality": None if o.quality is None else round(o.quality, 2),
             **({"reason": o.reason} if o.reason is not None else {}),
             **({"source": o.source} if o.source is not None else {}),
             **({"document": {"document_number": o.document[0], "nationality": o.document[1]}}
                if o.document is not None else {}),
             **({"seat": o.seat} if o.seat is not None else {})}
            for o in result.occupants
        ],
        "latency_ms": round(result.latency_ms, 2),
    }
    if result.error is not None:
        row["error"] = result.error
        if result.error_detail:
            row["error_detail"] = result.error_detail
    if result.skipped_frames:
        row["skipped_frames"] = [{"camera": c, "file": f, "reason": r}
                                 for c, f, r in result.skipped_frames]
    if result.timings_ms:
        row["timings_ms"] = {k: round(v, 2) for k, v in result.timings_ms}
    if result.documents_read:
        row["documents"] = {"read": result.documents_read, "unknown": result.documents_unknown}
        row["unmatched_documents"] = [
            {"traveler_id": t, "document_number": n, "nationality": c}
            for t, n, c in result.documents_unmatched]
    return row


def read_results(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EventError(f"{path}: cannot read results ({exc})") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EventError(f"{path}:{i}: not JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get("event_id"), str) \
                or not isinstance(row.get("occupants"), list):
            raise EventError(f"{path}:{i}: needs event_id and occupants")
        yield row
