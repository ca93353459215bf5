"""The vehicle-lane pipeline: one event and its decoded frames in, one LaneResult out.

detect (full frame + an upscaled region of interest on windshield views, where row-2/3
faces are small) -> quality of every face -> per-camera tracklets (geometry) -> embed the
best shots of each tracklet -> join tracklets across cameras (appearance) -> fuse each
track's best shots into one score per traveller -> the one decision rule
(``match.decide.identify``: one-to-one assignment in the vehicle, runner-up). Every default
in :class:`LaneConfig` was chosen by measurement on simulated development lanes;
docs/lane.md gives the figures.

The core is pure: frames arrive decoded (``lane.events.decode_frames`` for a folder, the
service for an upload), and nothing here reads a file.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import EllipsisType

import numpy as np
from numpy.typing import NDArray

from bordermatch.detect.nms import nms
from bordermatch.detect.regions import detect_coarse_to_fine, shifted
from bordermatch.embed.batch import embed_frames
from bordermatch.errors import ConfigError
from bordermatch.lane.events import (
    DecodedFrames,
    DocumentRead,
    FrameRef,
    LaneEvent,
    LaneEventError,
)
from bordermatch.lane.fusions import FUSIONS, SHORTLIST_FUSIONS
from bordermatch.lane.operating_points import choose_document_point
from bordermatch.lane.seats import CameraGeometry, LaneLayout, estimate_seats
from bordermatch.lane.track import (
    Shot,
    Track,
    can_merge,
    cluster_tracklets,
    link_frames,
)
from bordermatch.match.cohort import LaneGallery, WholeGallery
from bordermatch.match.decide import (
    Identification,
    OperatingPoint,
    decide,
    identify,
    identify_with_documents,
)
from bordermatch.match.fusion import LogisticScore
from bordermatch.match.normalise import Normalised, check_normalisation, normalise
from bordermatch.match.search import GallerySearch
from bordermatch.protocols import Detector, Embedder, QualityAssessor
from bordermatch.types import BestShot, Face, Image, LaneResult, Occupant, Outcome


@dataclass(frozen=True, slots=True)
class LaneConfig:
    roi_views: tuple[str, ...] = ("windshield",)  # camera views that get the upscaled pass
    roi: tuple[float, float, float, float] = (0.25, 0.3, 0.75, 0.7)  # x1, y1, x2, y2 fractions
    roi_upscale: float = 2.0  # 1.0 turns the second pass off
    min_face_px: float = 14.0  # smaller boxes are not faces a recognizer can use
    # Each detection pass first looks at the frame (or the upscaled ROI) at this scale and
    # then at full resolution only around what it found (detect/regions.py): about half the
    # detector's work for the same faces (docs/benchmarks.md). 1.0: one full pass each.
    coarse_scale: float = 0.5
    roi_coarse_scale: float = 0.5
    # Shots embedded per tracklet, best quality first. 4 = every frame of a 3-4 frame pass:
    # the quality score often ranks a glared or blurred frame first (docs/lane.md).
    shots_per_tracklet: int = 4
    # Adaptive shots (off by default): embed ``first_shots`` per tracklet before linking and
    # the rest only for tracks still undecided. Measured: 4 % less embedding, but tracklets
    # linked on fewer shots split more often (docs/lane.md).
    first_shots: int = 2
    adaptive_shots: bool = False
    # One recognizer call for every shot of the vehicle instead of one per frame, when the
    # embedder takes aligned chips (embed.batch): the same vectors, fewer, larger calls.
    batch_embedding: bool = True
    fusion: str = "max_score"  # template | best_shot | max_score (measured: docs/lane.md)
    # The document stage's 1:1 comparisons fuse shots their own way (docs/lane.md);
    # None: the same as ``fusion``.
    document_fusion: str | None = "top2_mean"
    # ... and are S-normalised (match.normalise: by the track's own gallery scores and each
    # traveller's scores against other travellers' photos; measured: docs/lane.md) when the
    # document point is on that scale; "tnorm": the track's side only; None: raw scores.
    document_norm: str | None = "snorm"
    fuse_top_k: int = 16  # shots fused into a track's score (all of 3 cameras x 4 frames)
    link_threshold: float = 0.30  # cosine to join tracklets across cameras (docs/lane.md)
    min_capture_quality: float = 20.0  # a track whose best shot is worse is no_capture
    # Documents read in the lane are verified 1:few at this 1:1 FMR before the 1:N search
    # (docs/lane.md); None ignores them (every decision an open 1:N search).
    document_fmr: float | None = 1e-3
    # Baselines and degraded modes: use only these camera ids / the last N frames of each.
    only_cameras: tuple[str, ...] | None = None
    last_frames: int | None = None
    layout: LaneLayout = field(default_factory=LaneLayout)  # seat zones of this installation

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS or (self.document_fusion is not None
                                          and self.document_fusion not in FUSIONS):
            raise ConfigError(f"fusion must be one of {sorted(FUSIONS)}")
        check_normalisation(self.document_norm)
        for name in ("shots_per_tracklet", "first_shots", "fuse_top_k"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in ("coarse_scale", "roi_coarse_scale"):
            if not 0.1 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0.1, 1]")
        if self.last_frames is not None and self.last_frames < 1:
            raise ConfigError("last_frames must be at least 1")


@dataclass(slots=True)
class Observation:
    event: LaneEvent
    tracks: list[Track]
    timings: dict[str, float]
    unreadable: int
    seats: dict[int, str] = field(default_factory=dict)  # track_id -> estimated seat


class LanePipeline:
    """Decides vehicle events against one gallery at one operating point.

    ``gallery`` is a search over every traveller, or a ``match.cohort.LaneGallery`` that
    names the travellers each vehicle is decided on (a shared index's shortlist for its
    shots and the travellers whose documents were read) and the cohort its document
    scores are normalised by, drawn from the whole gallery either way.
    ``scale`` is the recognizer's calibration (``match.fusion``): track scores are put on
    the calibrated scale shared by every decision before ``point`` applies. ``aliases``
    names the travellers flagged as possibly one face under two identities (only the
    reason of a runner-up review changes). ``documents`` maps each enrolled document,
    ``(document_number, nationality)``, to its traveller; with ``document_point`` (a 1:1
    FMR operating point) the documents read for a vehicle make its decisions 1:few first
    (``match.decide.identify_with_documents``). Without it, reads are ignored. A document
    point on normalised scores (S-norm, T-norm) is used when the configuration asks for
    that scale and the gallery is a large enough cohort (``match.normalise``); otherwise
    ``document_fallback``, a point on raw scores.
    """

    def __init__(self, detector: Detector, embedder: Embedder, assessor: QualityAssessor,
                 gallery: GallerySearch | LaneGallery, point: OperatingPoint,
                 scale: LogisticScore,
                 config: LaneConfig | None = None,
                 aliases: Mapping[str, Collection[str]] | None = None,
                 documents: Mapping[tuple[str, str], str] | None = None,
                 document_point: OperatingPoint | None = None,
                 document_fallback: OperatingPoint | None = None) -> None:
        if point.model != embedder.name or scale.models != (embedder.name,):
            raise ConfigError(f"operating point is for {point.model!r} and scale for "
                              f"{scale.models}, embedder is {embedder.name!r}: calibrate "
                              "for this recognizer")
        if point.rate != "FPIR":
            raise ConfigError(f"a lane needs an open-set (FPIR) operating point, not {point.rate}")
        self.detector = detector
        self.embedder = embedder
        self.assessor = assessor
        self.gallery: LaneGallery = (WholeGallery(gallery) if isinstance(gallery, GallerySearch)
                                     else gallery)
        self.config = config or LaneConfig()
        if not isinstance(self.gallery, WholeGallery) \
                and self.config.fusion not in SHORTLIST_FUSIONS:
            # A mean over shots (template, top2_mean) can rank first a traveller no single
            # shot ranks near the top: only the travellers read are scored that way.
            raise ConfigError(f"a lane on an index's shortlist searches with "
                              f"{' or '.join(SHORTLIST_FUSIONS)} fusion, not "
                              f"{self.config.fusion}")
        self.point = point
        self.scale = scale
        self.aliases = aliases or {}
        self.documents = documents or {}
        self.document_point = choose_document_point(
            (document_point, document_fallback), embedder.name, self.config.document_norm,
            len(self.gallery))

    @property
    def search(self) -> GallerySearch:
        """The exact search over every traveller (calibration and evaluation read it)."""
        return self.gallery.search

    @property
    def document_norm(self) -> str | None:
        """The scale of the document stage's scores: its operating point's."""
        return None if self.document_point is None else self.document_point.normalisation

    # -- one event ----------------------------------------------------------------------
    def frames_needed(self, event: LaneEvent) -> list[FrameRef]:
        """The frames this configuration looks at (cameras and last frames), in order."""
        cfg = self.config
        by_cam: dict[str, list[FrameRef]] = defaultdict(list)
        for fr in event.frames:
            if cfg.only_cameras is None or fr.camera in cfg.only_cameras:
                by_cam[fr.camera].append(fr)
        if cfg.last_frames is not None:
            by_cam = {c: f[-cfg.last_frames:] for c, f in by_cam.items()}
        return [fr for frames in by_cam.values() for fr in frames]

    def frame_ref(self, event: LaneEvent, camera: str, frame: int) -> FrameRef:
        """The frame a shot's ``frame`` index names (see ``observe``: per camera, in the
        order of ``frames_needed``)."""
        return [fr for fr in self.frames_needed(event) if fr.camera == camera][frame]

    def process(self, event: LaneEvent, frames: DecodedFrames) -> LaneResult:
        start = time.perf_counter()
        skipped = tuple((f.camera, f.file, f.reason)
                        for f in (*event.skipped, *frames.failed.values()))
        try:
            obs = self.observe(event, frames)
        except LaneEventError as exc:
            return LaneResult(event.event_id, (), _ms(start), error=exc.reason,
                              error_detail=exc.detail, skipped_frames=skipped)
        occupants, search_ms = self.decide(obs.tracks, obs.seats, event.documents)
        obs.timings["search"] = search_ms
        return self.result(event, occupants, _ms(start) + obs.timings.get("decode", 0.0),
                           timings=tuple(obs.timings.items()), skipped=skipped)

    def result(self, event: LaneEvent, occupants: Sequence[Occupant], latency_ms: float,
               error: str | None = None, timings: tuple[tuple[str, float], ...] = (),
               skipped: tuple[tuple[str, str, str], ...] = ()) -> LaneResult:
        """The vehicle's result line, with what became of the documents read for it."""
        matched = {o.traveler_id for o in occupants if o.decision is Outcome.MATCH}
        unmatched = sorted({(t, *d.key) for d in event.documents
                            if (t := self.documents.get(d.key)) is not None and t not in matched})
        return LaneResult(event.event_id, tuple(occupants), latency_ms, error=error,
                          timings_ms=timings, skipped_frames=skipped,
                          documents_read=len(event.documents),
                          documents_unknown=sum(d.key not in self.documents
                                                for d in event.documents),
                          documents_unmatched=tuple(unmatched))

    def observe(self, event: LaneEvent, frames: DecodedFrames) -> Observation:
        views = {c.id: c.view for c in event.cameras}
        timings: dict[str, float] = defaultdict(float)
        timings["decode"] = frames.decode_ms
        by_cam: dict[str, list[FrameRef]] = defaultdict(list)
        for fr in self.frames_needed(event):
            by_cam[fr.camera].append(fr)
        taken: defaultdict[str, int] = defaultdict(int)
        for fr in event.frames:
            taken[fr.camera] += 1
        images: dict[tuple[str, int], Image] = {}
        geometry: dict[str, CameraGeometry] = {}
        tracklets = []
        for cam, refs in by_cam.items():
            shots_by_frame: list[list[Shot]] = []
            for k, fr in enumerate(refs):
                image = frames.images.get((fr.camera, fr.seq))
                if image is None:
                    shots_by_frame.append([])
                    continue
                images[(cam, k)] = image
                if cam not in geometry:
                    geometry[cam] = CameraGeometry(views[cam], (image.shape[1], image.shape[0]),
                                                   taken[cam], taken[cam] - len(refs))
                t = time.perf_counter()
                faces = self.detect(image, views[cam])
                timings["detection"] += _ms(t)
                t = time.perf_counter()
                measured = [(f, self.assessor.assess(image, f)) for f in faces]
                shots_by_frame.append([Shot(cam, k, f, q.unified, measures=q)
                                       for f, q in measured])
                timings["quality"] += _ms(t)
            t = time.perf_counter()
            tracklets += link_frames(shots_by_frame, cam)
            timings["tracking"] += _ms(t)
        if frames.failed and not images:
            bad = next(iter(frames.failed.values()))
            raise LaneEventError("unreadable_frames",
                                 f"none of {len(frames.failed)} frames decodes; first: "
                                 f"{bad.camera}/{bad.file} ({bad.reason})")
        cfg = self.config
        first = cfg.first_shots if self.adaptive else cfg.shots_per_tracklet
        t = time.perf_counter()
        self._embed_shots(tracklets, images, min(first, cfg.shots_per_tracklet))
        timings["embedding"] += _ms(t)
        t = time.perf_counter()
        tracks = cluster_tracklets(tracklets, cfg.link_threshold)
        timings["tracking"] += _ms(t)
        t = time.perf_counter()
        self._embed_open_tracks(tracks, images)
        timings["embedding"] += _ms(t)
        t = time.perf_counter()
        seats = estimate_seats(tracks, geometry, cfg.layout)
        timings["tracking"] += _ms(t)
        return Observation(event, tracks, dict(timings), len(frames.failed), seats)

    def detect(self, image: Image, view: str) -> list[Face]:
        """Full frame, plus an upscaled central region on the views that need it; each pass
        coarse-to-fine (``LaneConfig.coarse_scale``, ``detect.regions``)."""
        cfg = self.config
        faces = detect_coarse_to_fine(self.detector, image, cfg.coarse_scale)
        if view in cfg.roi_views and cfg.roi_upscale > 1.0:
            import cv2

            h, w = image.shape[:2]
            x1, y1 = int(cfg.roi[0] * w), int(cfg.roi[1] * h)
            x2, y2 = int(cfg.roi[2] * w), int(cfg.roi[3] * h)
            # cv2's stubs type every result as any int/float array; resize keeps uint8.
            crop: Image = cv2.resize(  # type: ignore[assignment]
                image[y1:y2, x1:x2], None, fx=cfg.roi_upscale, fy=cfg.roi_upscale,
                interpolation=cv2.INTER_CUBIC)
            found = detect_coarse_to_fine(self.detector, crop, cfg.roi_coarse_scale)
            faces += shifted(found, cfg.roi_upscale, x1, y1)
        faces = [f for f in faces if f.width >= cfg.min_face_px]
        if len(faces) > 1:
            keep = nms(np.stack([f.box for f in faces]),
                       np.array([f.score for f in faces], np.float32), 0.4)
            faces = [faces[int(i)] for i in keep]
        return faces

    def _embed_shots(self, tracklets, images, per_tracklet: int) -> None:
        """Embed each tracklet's best-quality shots until it has ``per_tracklet`` of them."""
        by_frame: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        for ti, t in enumerate(tracklets):
            order = sorted(range(len(t.shots)), key=lambda i: -t.shots[i].quality)
            done = sum(t.shots[i].vector is not None for i in order)
            todo = [i for i in order if t.shots[i].vector is None][: max(per_tracklet - done, 0)]
            for si in todo:
                by_frame[(t.camera, t.shots[si].frame)].append((ti, si))
        work = [(images[key], [tracklets[ti].shots[si].face for ti, si in refs])
                for key, refs in by_frame.items()]
        if self.config.batch_embedding:
            per_frame = embed_frames(self.embedder, work)
        else:
            per_frame = [self.embedder.embed(image, faces) for image, faces in work]
        for refs, vectors in zip(by_frame.values(), per_frame, strict=True):
            for (ti, si), v in zip(refs, vectors, strict=True):
                s = tracklets[ti].shots[si]
                tracklets[ti].shots[si] = Shot(s.camera, s.frame, s.face, s.quality, v,
                                               s.measures)

    @property
    def adaptive(self) -> bool:
        # Only the maximum over shots can never fall when more shots come in.
        return self.config.adaptive_shots and self.config.fusion == "max_score"

    def _embed_open_tracks(self, tracks: list[Track], images) -> None:
        """Embed more shots, one per tracklet per round, of the tracks still undecided.

        A track is decided when its rank-1 candidate is at or above the match threshold and
        no other traveller reaches the review threshold: with max-score fusion, more shots
        could only raise scores that already decide it. Every other track (non-mated,
        review band, ambiguous) gets all its shots. Decisions are nearly, not exactly, those
        of embedding every frame: tracklets are linked on their first shots, and a further
        shot could lift a runner-up past the review threshold; the latency benchmark counts
        the vehicles whose decisions differ (docs/lane.md).
        """
        cfg = self.config
        for n in range(cfg.first_shots + 1, cfg.shots_per_tracklet + 1):
            open_tracks = [t for t in tracks if not self._decided(t)]
            pending = [tl for t in open_tracks for tl in t.tracklets
                       if any(s.vector is None for s in tl.shots)]
            if not pending:
                return
            self._embed_shots(pending, images, n)

    def _decided(self, track: Track) -> bool:
        cfg = self.config
        if not self.adaptive or track.best_quality < cfg.min_capture_quality:
            return True
        columns = self.columns([track], ())
        row = self.track_scores([track], columns=columns)[0]
        if not row.size:
            return False
        return identify(row[None, :], columns.ids, self.point)[0].decision.outcome \
            is Outcome.MATCH

    # -- decisions --------------------------------------------------------------------------
    def columns(self, tracks: Sequence[Track], claimed: Collection[str]) -> GallerySearch:
        """The travellers these tracks are decided on (``LaneGallery.columns``), asked with
        every shot the search fusion reads. A traveller a max-score track ranks r-th is
        among the r best of the shot that gives that score, and the decision reads no
        deeper than one column per track and per traveller read, the runner-up and the
        no-match score past them."""
        shots = [s.vector for tr in tracks for s in _fused_shots(tr)[:self.config.fuse_top_k]]
        queries = (np.stack(shots) if shots  # type: ignore[arg-type]
                   else np.zeros((0, self.embedder.dim), np.float32))
        return self.gallery.columns(queries, claimed, len(tracks) + len(claimed) + 2)

    def track_scores(self, tracks: list[Track], fusion: str | None = None,
                     columns: GallerySearch | None = None) -> NDArray[np.float32]:
        """(n_tracks, travellers) calibrated score of each track by ``fusion`` (default:
        the configured one) against ``columns`` (default: every traveller)."""
        cfg = self.config
        fuse = FUSIONS[fusion or cfg.fusion]
        columns = self.search if columns is None else columns
        out = np.full((len(tracks), len(columns)), -1.0, np.float32)  # lowest cosine
        for i, tr in enumerate(tracks):
            shots = _fused_shots(tr)
            if shots:
                out[i] = fuse(columns, shots, cfg.fuse_top_k)
        return self.scale.of_cosine(out)

    def document_scores(self, tracks: list[Track], norm: str | EllipsisType | None = ...,
                        columns: GallerySearch | None = None) -> Normalised:
        """The document stage's 1:1 scores of ``tracks`` against ``columns`` (default:
        every traveller): fused its way and on its operating point's scale (``norm``:
        another scale, for calibration)."""
        scale = self.document_norm if isinstance(norm, EllipsisType) else norm
        fusion = self.config.document_fusion
        return self.normalised(lambda c: self.track_scores(tracks, fusion, c), scale, columns)

    def normalised(self, probe: Callable[[GallerySearch], NDArray[np.float32]],
                   norm: str | None, columns: GallerySearch | None = None) -> Normalised:
        """``probe``'s calibrated scores (a function of the travellers scored) against
        ``columns`` (default: every traveller), on ``norm``'s scale, normalised by the
        gallery's cohort (``match.cohort``)."""
        columns = self.search if columns is None else columns
        scores = probe(columns)
        if norm is None:
            return normalise(scores, None)
        cohort = self.gallery.cohort()
        rows = None if cohort.rows is columns else probe(cohort.rows)
        stats = None
        if norm == "snorm":  # the cohort stats on the calibrated scale (an affine map)
            mean, spread = cohort.column_stats(columns)
            stats = (self.scale.of_cosine(mean.astype(np.float32)).astype(np.float64),
                     spread * self.scale.single_weight)
        return normalise(scores, norm, stats, rows)

    def decide(self, tracks: list[Track], seats: dict[int, str] | None = None,
               reads: Sequence[DocumentRead] = ()) -> tuple[list[Occupant], float]:
        t0 = time.perf_counter()
        seats = seats or {}
        captured = [t for t in tracks if t.best_quality >= self.config.min_capture_quality]
        read_by = {self.documents[d.key]: d.key for d in reads if d.key in self.documents}
        claimed = set(read_by)
        columns = self.columns(captured, claimed)
        captured = self._merge_same_identity(captured, columns)
        scores = self.track_scores(captured, columns=columns)
        if claimed and self.document_point is not None:
            fusion = self.config.document_fusion
            few = (self.document_scores(captured, columns=columns)
                   if self.document_norm is not None
                   or fusion not in (None, self.config.fusion) else None)
            normed = few if self.document_norm is not None else None
            found = identify_with_documents(scores, columns.ids, claimed, self.point,
                                            self.document_point, self.aliases,
                                            None if few is None else few.scores,
                                            None if normed is None else normed.raw_scores())
            if normed is not None:
                found = [_raw_scale(f, normed, i, columns, claimed)
                         for i, f in enumerate(found)]
        else:
            found = identify(scores, columns.ids, self.point, self.aliases)
        occupants = [
            Occupant(tr.track_id, f.traveler_id, f.decision.score, f.decision.outcome,
                     tr.best_quality, len(tr.shots), tr.cameras, seats.get(tr.track_id),
                     reason=f.decision.reason.value, source=f.source,
                     document=read_by.get(f.traveler_id or "") if f.source == "document"
                     else None, detail=f.decision, runner_up_id=f.runner_up_id,
                     best_shot=_best_shot_of(tr))
            for tr, f in zip(captured, found, strict=True)]
        for tr in tracks:
            if tr.best_quality < self.config.min_capture_quality:
                d = decide(None, self.point)
                occupants.append(Occupant(tr.track_id, None, None, d.outcome, tr.best_quality,
                                          len(tr.shots), tr.cameras, seats.get(tr.track_id),
                                          reason=d.reason.value, detail=d,
                                          best_shot=_best_shot_of(tr)))
        occupants.sort(key=lambda o: o.track_id)
        return occupants, _ms(t0)

    def _merge_same_identity(self, tracks: list[Track], columns: GallerySearch,
                             ) -> list[Track]:
        """Join tracks whose rank-1 candidate is the same traveller at a review-level score,
        when no camera saw them side by side: one person whose views did not link."""
        if len(tracks) < 2 or not len(columns):
            return tracks
        scores = self.track_scores(tracks, columns=columns)
        top = scores.argmax(1)
        merged: list[Track] = []
        used = set()
        for i, tr in enumerate(tracks):
            if i in used:
                continue
            group = tr
            for j in range(i + 1, len(tracks)):
                if j in used or top[j] != top[i]:
                    continue
                if min(scores[i, top[i]], scores[j, top[j]]) < self.point.floor:
                    continue
                if can_merge(group, tracks[j]):
                    group = Track(group.track_id, group.tracklets + tracks[j].tracklets)
                    used.add(j)
            merged.append(group)
        return merged


def _raw_scale(found: Identification, few: Normalised, row: int, search: GallerySearch,
               claimed: Collection[str]) -> Identification:
    """A document decision taken on normalised scores, told on the calibrated scale: its
    score and this track's own threshold for that traveller (the z threshold mapped back
    by the cohort means and spreads), so records and review pages keep one scale. A
    runner-up among the travellers read is on the z scale too; the look-alike guard's (a
    traveller not read) is a search score already. Only matches and reviews, which name
    a traveller, leave the document stage."""
    d = found.decision
    if found.source != "document" or d.scale is None or found.traveler_id is None:
        return found
    col = search.column_of(found.traveler_id)
    rival = d.runner_up
    if rival is not None and found.runner_up_id in claimed:
        rival = few.raw(row, search.column_of(found.runner_up_id or ""), rival)
    return replace(found, decision=replace(
        d, score=None if d.score is None else few.raw(row, col, d.score),
        threshold=few.raw(row, col, d.threshold), runner_up=rival))


def _fused_shots(track: Track) -> list[Shot]:
    """A track's embedded shots, best quality first: what every fusion reads."""
    return sorted((s for s in track.shots if s.vector is not None), key=lambda s: -s.quality)


def _best_shot_of(track: Track) -> BestShot:
    # Ties go to an embedded shot, so the capture shown has the template stored with it.
    shot = max(track.shots, key=lambda s: (s.quality, s.vector is not None))
    box = tuple(float(v) for v in shot.face.box[:4])
    return BestShot(shot.camera, shot.frame, box, shot.quality,  # type: ignore[arg-type]
                    shot.vector, shot.measures)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
