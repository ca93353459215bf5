"""Lane simulator: renders a gallery directory and lane events (with truth.json) from a face
directory laid out like LFW (``<Name>/<Name>_NNNN.jpg``).

A person in the gallery is always rendered into the lane from a different photo than the
one enrolled. Parameters and their defaults: :class:`bordermatch.lane.scenario.SimParams`
and docs/lane.md. The source photos are run through the face detector once, to know where
the face and eyes are; photos with no detectable face are not used.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bordermatch.errors import ConfigError, ImageError, NoFaceError
from bordermatch.gallery.enrol import as_portrait
from bordermatch.gallery.manifest import write_manifest
from bordermatch.io.images import load_image
from bordermatch.lane.events import frame_path, write_event
from bordermatch.lane.reads import Document, occupant_reads, stray_read, write_reads
from bordermatch.lane.render import (
    Placement,
    SourceFace,
    background,
    degrade,
    encode_jpeg,
    glass_look,
    paste_face,
    through_glass,
)
from bordermatch.lane.scenario import OccupantPlan, SimParams, sample_seats, uniform
from bordermatch.lane.seats import LaneLayout

log = logging.getLogger(__name__)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
NATIONALITIES = ("USA", "CAN", "MEX", "GBR", "FRA", "DEU", "IND", "CHN", "BRA", "NGA")
# The reference installation: seat zones shared with the pipeline's seat estimator.
REFERENCE = LaneLayout()
FRONT_SEATS = REFERENCE.front_seats
FRONT_VANISHING = REFERENCE.front_vanishing
SIDE_ROW_X = dict(enumerate(REFERENCE.side_row_x, start=1))  # left camera; right is mirrored
SIDE_Y = 0.55
SIDE_DRIFT_PX = REFERENCE.side_drift_px
CABIN = (0.2, 0.3, 0.8, 0.8)  # glass region, fractions (x1, y1, x2, y2)


def scan_faces(faces_dir: Path) -> dict[str, list[Path]]:
    """Person name -> sorted photo paths."""
    faces_dir = Path(faces_dir)
    if not faces_dir.is_dir():
        raise ConfigError(f"{faces_dir}: face directory not found")
    people = {}
    for d in sorted(p for p in faces_dir.iterdir() if p.is_dir()):
        photos = sorted(p for p in d.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if photos:
            people[d.name] = photos
    return people


class _Sources:
    """Face geometry of source photos, detected once and cached."""

    def __init__(self, detector) -> None:
        # The subject rule of enrolment; with a plain detector (the default) no retry, so a
        # source photo is used only when its face is found at the operating point.
        self.detector = as_portrait(detector)
        self._cache: dict[Path, SourceFace | None] = {}

    def get(self, path: Path) -> SourceFace | None:
        if path not in self._cache:
            self._cache[path] = self._load(path)
        return self._cache[path]

    def _load(self, path: Path) -> SourceFace | None:
        try:
            img = load_image(path)
        except ImageError as exc:
            log.warning("skipping %s: %s", path, exc)
            return None
        try:
            choice = self.detector.subject(img)
        except NoFaceError:
            return None
        # A photo whose subject is unclear would make the truth unclear too.
        return None if choice.ambiguous else SourceFace(img, choice.face.box,
                                                        choice.face.landmarks)


def simulate(faces_dir: Path, out: Path, vehicles: int, seed: int, params: SimParams,
             detector=None, progress: Callable[[int], None] | None = None) -> dict:
    """Write ``out/gallery`` and ``out/events``; return a summary dict."""
    from bordermatch import registry

    if vehicles < 1:
        raise ConfigError("need at least one vehicle")
    detector = detector or registry.create("detector", "yunet", score_threshold=0.6)
    sources = _Sources(detector)
    rng = np.random.default_rng(seed)
    people = scan_faces(faces_dir)
    names = list(people)
    rng.shuffle(names)
    multi = [n for n in names if len(people[n]) >= 2]
    single = [n for n in names if len(people[n]) < 2]
    used: set[str] = set()
    out = Path(out)
    gallery_dir, events_dir = out / "gallery", out / "events"
    (gallery_dir / "photos").mkdir(parents=True, exist_ok=True)
    events_dir.mkdir(parents=True, exist_ok=True)
    gallery_rows: list[dict] = []
    ids = iter(rng.permutation(10**6)[: len(names) + params.duplicate_travelers + 10])
    # Documents, second references and reads draw from their own stream: a seed renders the
    # same vehicles whatever the document parameters are.
    docs_rng = np.random.default_rng([seed, 9303])
    held: dict[str, list[Document]] = {}

    def enrol(name: str, photo: Path) -> str:
        tid = f"T{next(ids):06d}"
        dest = Path("photos") / f"{tid}{photo.suffix.lower()}"
        shutil.copyfile(photo, gallery_dir / dest)
        given, _, surname = name.replace("_", " ").rpartition(" ")
        gallery_rows.append({
            "traveler_id": tid, "given_names": given or surname, "surname": surname,
            "document_type": "P", "document_number": f"X{rng.integers(10**7, 10**8)}",
            "nationality": str(rng.choice(NATIONALITIES)),
            "citizen": "true" if rng.random() < 0.5 else "false", "photo": dest.as_posix()})
        row = gallery_rows[-1]
        held[tid] = [(row["document_type"], row["document_number"], row["nationality"])]
        return tid

    def second_reference(tid: str, name: str, taken: set[Path]) -> None:
        """Another document of the same traveller (a visa) with another photo of them."""
        if docs_rng.random() >= params.second_reference_prob:
            return
        photo = next((q for q in people[name] if q not in taken
                      and sources.get(q) is not None), None)
        if photo is None:
            return
        first = next(r for r in gallery_rows if r["traveler_id"] == tid)
        dest = Path("photos") / f"{tid}-2{photo.suffix.lower()}"
        shutil.copyfile(photo, gallery_dir / dest)
        row = first | {"document_type": "V", "photo": dest.as_posix(),
                       "document_number": f"Y{docs_rng.integers(10**7, 10**8)}"}
        gallery_rows.append(row)
        held[tid].append((row["document_type"], row["document_number"], row["nationality"]))

    def pick(pool: list[str], need_two: bool) -> tuple[str, Path, Path | None] | None:
        while pool:
            name = pool.pop()
            if name in used:
                continue
            photos = list(people[name])
            rng.shuffle(photos)
            lane = next((p for p in photos if sources.get(p) is not None), None)
            if lane is None:
                continue
            gal = None
            if need_two:
                gal = next((p for p in photos if p != lane and sources.get(p) is not None), None)
                if gal is None:
                    continue
            used.add(name)
            return name, lane, gal
        return None

    n_people = 0
    vehicle_reads = []
    for v in range(vehicles):
        plans = []
        for seat in sample_seats(rng, params):
            in_gallery = rng.random() >= params.not_in_gallery
            chosen = pick(multi, True) if in_gallery else pick(single, False) or pick(multi, False)
            if chosen is None:
                raise ConfigError(
                    f"{faces_dir}: not enough distinct people for {vehicles} vehicles")
            name, lane_photo, gal_photo = chosen
            tid = enrol(name, gal_photo) if gal_photo is not None else None
            if tid is not None and gal_photo is not None:
                second_reference(tid, name, {lane_photo, gal_photo})
            plans.append(OccupantPlan(seat, name, str(lane_photo), tid,
                                      bool(rng.random() < params.sunglasses_prob)))
        n_people += len(plans)
        render_vehicle(events_dir / f"veh{v:05d}", f"veh{v:05d}", plans, sources, rng, params)
        vehicle_reads.append((plans, *occupant_reads(docs_rng, params, plans, held,
                                                      NATIONALITIES)))
        if progress:
            progress(v + 1)
    for _ in range(params.distractors):
        chosen = pick(single, False) or pick(multi, False)
        if chosen is None:
            log.warning("ran out of people for distractors")
            break
        enrol(chosen[0], chosen[1])
    for v, (plans, reads, read) in enumerate(vehicle_reads):
        stray = stray_read(docs_rng, params, {o.traveler_id for o in plans if o.traveler_id},
                           held)
        write_reads(events_dir / f"veh{v:05d}", reads + ([stray] if stray else []), read)
    for row in gallery_rows[: params.duplicate_travelers]:
        gallery_rows.append(dict(row))  # the same document twice: enrolment must report it
    order = rng.permutation(len(gallery_rows))
    write_manifest(gallery_dir / "manifest.csv", (gallery_rows[i] for i in order))
    summary = {"vehicles": vehicles, "occupants": n_people, "gallery": len(gallery_rows),
               "travelers": len(held),
               "documents_read": sum(len(r) for _, r, _ in vehicle_reads),
               "seed": seed, "faces_dir": str(faces_dir), "params": asdict(params)}
    (out / "simulation.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def render_vehicle(folder: Path, event_id: str, plans: list[OccupantPlan], sources: _Sources,
                   rng: np.random.Generator, p: SimParams) -> None:
    """Write event.json, truth.json and every camera's frames for one vehicle."""
    cams = [("front", "windshield"), ("left", "side-left"), ("right", "side-right")]
    write_event(folder, event_id, cams, lane=f"lane-{rng.integers(1, 9)}",
                direction="entry" if rng.random() < 0.5 else "exit",
                started_at=f"2026-03-{1 + v_day(event_id):02d}T12:00:00+00:00")
    # person, lane_photo and sunglasses are extras for auditing the simulation (per-condition
    # breakdowns); evaluators ignore them.
    truth = {"occupants": [{"traveler_id": o.traveler_id, "seat": o.seat, "person": o.person,
                            "lane_photo": Path(o.lane_photo).name, "sunglasses": o.sunglasses}
                           for o in plans]}
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
    w, h = p.frame_size
    cabin = (int(CABIN[0] * w), int(CABIN[1] * h), int(CABIN[2] * w), int(CABIN[3] * h))
    for cam, _view in cams:
        layout = _layout(cam, plans, rng, p, w, h)
        glass = p.windshield_transmission if cam == "front" else p.tint_transmission
        look = glass_look(rng, p, (w, h), glass)
        quality = int(rng.integers(p.jpeg_quality[0], p.jpeg_quality[1] + 1))
        lo, hi = p.frames_front if cam == "front" else p.frames_side
        n = int(rng.integers(lo, hi + 1))
        start = uniform(rng, p.approach_start_scale)
        bg = background(rng, (w, h))
        cabin_colour = float(bg[cabin[1] + 5, cabin[0] + 5].mean())
        for k in range(n):
            t = k / max(1, n - 1)
            canvas = bg.astype(np.float32)
            # Far faces first, so nearer ones overdraw them.
            for plan, base in sorted(layout, key=lambda item: item[1].width):
                src = sources.get(Path(plan.lane_photo))
                if src is None:
                    continue
                paste_face(canvas, src, _at_time(cam, base, t, start, n, k, w, h), cabin_colour)
            through_glass(canvas, look, cabin)
            frame = degrade(rng, p, canvas)
            path = frame_path(folder, cam, k, k * p.frame_interval_ms)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_jpeg(frame, quality))


def v_day(event_id: str) -> int:
    return int("".join(c for c in event_id if c.isdigit()) or 0) % 28


def _layout(cam: str, plans: list[OccupantPlan], rng: np.random.Generator, p: SimParams,
            w: int, h: int) -> list[tuple[OccupantPlan, Placement]]:
    """Each occupant's placement at the last frame, for the event (occlusions fixed)."""
    out = []
    for o in plans:
        row = o.row - 1
        if cam == "front":
            fx, fy = FRONT_SEATS[o.seat]
            cover_top = uniform(rng, p.sun_visor_cover) if (
                o.row == 1 and rng.random() < p.sun_visor_prob) else 0.0
            cover_bottom = uniform(rng, p.headrest_cover) if (
                o.row > 1 and rng.random() < p.headrest_prob) else 0.0
            out.append((o, Placement(fx * w, fy * h, uniform(rng, p.front_width[row]),
                                     cover_top=cover_top, cover_bottom=cover_bottom,
                                     sunglasses=o.sunglasses)))
            continue
        near_side = "left" if cam == "left" else "right"
        width = uniform(rng, p.side_near_width[row])
        x = SIDE_ROW_X[o.row] * w
        squeeze, hidden = uniform(rng, p.side_yaw_squeeze), 0.0
        if o.side != near_side:
            far = o.side != "middle"
            scale = uniform(rng, p.side_far_scale) if far else 0.85
            hidden = uniform(rng, p.far_side_hidden) * (1.0 if far else 0.5)
            x += width * (0.75 if far else 0.45)
            width *= scale
        if cam == "right":
            x = w - x
        y = SIDE_Y * h - (0.0 if o.side == near_side else 0.06 * h)
        out.append((o, Placement(x, y, width, squeeze=squeeze, cover_side=hidden,
                                 sunglasses=o.sunglasses)))
    return out


def _at_time(cam: str, base: Placement, t: float, start: float, n: int, k: int,
             w: int, h: int) -> Placement:
    """The placement at frame k: the car grows as it approaches (and crosses side views)."""
    if cam == "front":
        s = start + (1 - start) * t
        vx, vy = FRONT_VANISHING[0] * w, FRONT_VANISHING[1] * h
        cx, cy = vx + (base.cx - vx) * s, vy + (base.cy - vy) * s
    else:
        s = 0.9 + 0.1 * t
        drift = SIDE_DRIFT_PX * (n - 1 - k) * (1 if cam == "left" else -1)
        cx, cy = base.cx - drift, base.cy
    return Placement(cx, cy, base.width * s, base.squeeze, base.cover_top, base.cover_bottom,
                     base.cover_side, base.sunglasses)
