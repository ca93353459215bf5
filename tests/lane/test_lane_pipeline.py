"""The pipeline's wiring on fakes: tracks, one-to-one decisions, partial bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tests.fakes import FakeDetector, FakeEmbedder, FakeQuality, make_face

from bordermatch.errors import ConfigError
from bordermatch.lane.events import frame_path, write_event
from bordermatch.lane.pipeline import LaneConfig, LanePipeline
from bordermatch.lane.runner import load_event
from bordermatch.match.cohort import WholeGallery
from bordermatch.match.decide import OperatingPoint
from bordermatch.match.fusion import LogisticScore
from bordermatch.match.search import GallerySearch
from bordermatch.types import Outcome

# Scores stay raw cosines in these tests: the fake recognizer's calibration is the identity.
IDENTITY = LogisticScore((("fake", 1.0),), 0.0)

FACES = [make_face(100, 100, 80), make_face(400, 100, 80)]
COLOURS = [(200, 30, 30), (30, 30, 200)]


def _frame() -> np.ndarray:
    img = np.full((360, 640, 3), 90, np.uint8)
    for f, c in zip(FACES, COLOURS, strict=True):
        x1, y1, x2, y2 = (int(v) for v in f.box)
        img[y1:y2, x1:x2] = c
    return img


def _event(tmp_path, corrupt_one=False):
    folder = tmp_path / "ev"
    write_event(folder, "ev", [("front", "windshield"), ("left", "side-left")])
    for cam in ("front", "left"):
        for k in range(3):
            p = frame_path(folder, cam, k, 100 * k)
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(_frame()).save(p)
    if corrupt_one:
        frame_path(folder, "left", 2, 200).write_bytes(b"\xff\xd8broken")
    return folder


def _pipeline(gallery_ids, gallery_vecs, **cfg):
    emb = FakeEmbedder()
    point = OperatingPoint("fake", "FPIR", 1e-3, match=0.99, review=0.9, review_target=1e-2)
    return LanePipeline(FakeDetector(FACES), emb, FakeQuality(60.0),
                        GallerySearch(gallery_ids, gallery_vecs), point, IDENTITY,
                        # The fake detector answers the same faces whatever it is shown, so
                        # a coarse pass on a downscaled frame would misplace them.
                        LaneConfig(roi_upscale=1.0, coarse_scale=1.0, **cfg))


def _run(pipe, folder):
    return pipe.process(*load_event(folder, pipe))


def _templates():
    emb = FakeEmbedder()
    return emb.embed(_frame(), FACES)


def test_two_occupants_two_cameras_two_matches(tmp_path):
    t = _templates()
    other = np.eye(8, dtype=np.float32)[:1]
    pipe = _pipeline(["RED", "BLUE", "OTHER"], np.vstack([t, other]))
    result = _run(pipe, _event(tmp_path))
    assert result.error is None
    got = sorted((o.traveler_id, o.decision) for o in result.occupants)
    assert got == [("BLUE", Outcome.MATCH), ("RED", Outcome.MATCH)]
    assert all(o.cameras == ("front", "left") and o.shots == 6 for o in result.occupants)
    assert dict(result.timings_ms).keys() >= {"detection", "embedding", "tracking", "search"}


def test_one_to_one_when_the_gallery_holds_only_one_of_them(tmp_path):
    t = _templates()
    pipe = _pipeline(["RED"], t[:1])
    result = _run(pipe, _event(tmp_path))
    decisions = sorted(o.decision.value for o in result.occupants)
    assert decisions == ["match", "no_match"]
    assert [o.traveler_id for o in result.occupants if o.decision is Outcome.MATCH] == ["RED"]


def test_partial_unreadable_frames_are_reported_with_the_occupants(tmp_path):
    t = _templates()
    result = _run(_pipeline(["RED", "BLUE"], t), _event(tmp_path, corrupt_one=True))
    assert result.error is None
    assert len(result.occupants) == 2
    [(camera, file, reason)] = result.skipped_frames
    assert (camera, file) == ("left", "0002_200.jpg") and reason.startswith("corrupt_image")


def test_a_misnamed_frame_is_skipped_and_the_vehicle_still_decided(tmp_path):
    t = _templates()
    folder = _event(tmp_path)
    bad = frame_path(folder, "front", 1, 100)
    bad.rename(bad.with_name("frame-1.jpg"))
    result = _run(_pipeline(["RED", "BLUE"], t), folder)
    assert result.error is None
    assert sorted(o.traveler_id for o in result.occupants) == ["BLUE", "RED"]
    assert [(c, f) for c, f, _ in result.skipped_frames] == [("front", "frame-1.jpg")]


def test_no_decodable_frame_says_which_frame_failed(tmp_path):
    folder = tmp_path / "ev"
    write_event(folder, "ev", [("front", "windshield")])
    p = frame_path(folder, "front", 0, 0)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"\xff\xd8broken")
    result = _run(_pipeline(["RED"], _templates()[:1]), folder)
    assert result.error == "unreadable_frames" and not result.occupants
    assert "front/0000_0.jpg" in (result.error_detail or "")
    assert [(c, f) for c, f, _ in result.skipped_frames] == [("front", "0000_0.jpg")]


def test_low_quality_tracks_are_no_capture(tmp_path):
    t = _templates()
    pipe = _pipeline(["RED", "BLUE"], t, min_capture_quality=70.0)
    result = _run(pipe, _event(tmp_path))
    assert {o.decision for o in result.occupants} == {Outcome.NO_CAPTURE}
    assert all(o.traveler_id is None and o.score is None for o in result.occupants)


def test_thresholds_for_another_recognizer_are_refused():
    point = OperatingPoint("sface", "FPIR", 1e-3, 0.5, 0.4, 1e-2, 10)
    gallery = GallerySearch(["a"], np.ones((1, 8), np.float32))
    with pytest.raises(ConfigError):
        LanePipeline(FakeDetector(), FakeEmbedder(), FakeQuality(), gallery, point, IDENTITY)
    one_to_one = OperatingPoint("fake", "FMR", 1e-4, 0.5)
    with pytest.raises(ConfigError, match="FPIR"):
        LanePipeline(FakeDetector(), FakeEmbedder(), FakeQuality(), gallery, one_to_one,
                     IDENTITY)


class CountingEmbedder:
    def __init__(self) -> None:
        self.inner = FakeEmbedder()
        self.name, self.dim = self.inner.name, self.inner.dim
        self.faces = 0

    def embed(self, image, faces):
        self.faces += len(faces)
        return self.inner.embed(image, faces)


def _counting(gallery_ids, gallery_vecs, **cfg):
    pipe = _pipeline(gallery_ids, gallery_vecs, **cfg)
    pipe.embedder = CountingEmbedder()
    return pipe


def test_adaptive_shots_stop_embedding_decided_tracks(tmp_path):
    t = _templates()
    folder = _event(tmp_path)
    adaptive = _counting(["RED", "BLUE"], t, first_shots=1, adaptive_shots=True)
    full = _counting(["RED", "BLUE"], t, adaptive_shots=False)
    a, f = _run(adaptive, folder), _run(full, folder)
    # 2 people x 2 cameras: one shot per tracklet decides both; every frame is 12 shots.
    assert (adaptive.embedder.faces, full.embedder.faces) == (4, 12)
    assert [(o.traveler_id, o.decision) for o in a.occupants] == \
        [(o.traveler_id, o.decision) for o in f.occupants]


def test_adaptive_shots_embed_every_frame_of_an_undecided_track(tmp_path):
    t = _templates()
    pipe = _counting(["RED"], t[:1], first_shots=1, adaptive_shots=True)  # BLUE not enrolled
    result = _run(pipe, _event(tmp_path))
    # RED: decided after one shot per camera (2); BLUE: all 3 frames of 2 cameras (6).
    assert pipe.embedder.faces == 2 + 6
    assert sorted(o.decision.value for o in result.occupants) == ["match", "no_match"]


def test_a_match_another_traveller_also_fits_goes_to_review(tmp_path):
    t = _templates()
    # RED-TWIN holds RED's face: the RED track reaches both, so which one crossed is open.
    pipe = _pipeline(["RED", "BLUE", "RED-TWIN"], np.vstack([t, t[:1]]))
    got = {o.traveler_id: o.decision for o in _run(pipe, _event(tmp_path)).occupants}
    assert got.pop("BLUE") is Outcome.MATCH
    assert list(got.values()) == [Outcome.REVIEW] and set(got) <= {"RED", "RED-TWIN"}


def test_a_look_alike_below_review_leaves_the_match(tmp_path):
    t = _templates()
    other = np.eye(8, dtype=np.float32)[:1]  # far below review against the RED track
    pipe = _pipeline(["RED", "BLUE", "LOOKALIKE"], np.vstack([t, other]))
    got = {o.traveler_id: o.decision for o in _run(pipe, _event(tmp_path)).occupants}
    assert got == {"RED": Outcome.MATCH, "BLUE": Outcome.MATCH}


def _degraded(t: np.ndarray, k: float) -> np.ndarray:
    """Templates that score ``k`` against the fake's captures (a worse reference photo)."""
    other = np.roll(t, 1, axis=1)
    other -= (other * t).sum(1, keepdims=True) * t
    other /= np.linalg.norm(other, axis=1, keepdims=True)
    return (k * t + np.sqrt(1 - k * k) * other).astype(np.float32)


def test_a_document_read_verifies_an_occupant_the_search_cannot(tmp_path):
    from dataclasses import replace

    from bordermatch.lane.events import DocumentRead, read_event

    t = _degraded(_templates(), 0.85)  # below the open-set review 0.9, above the 1:1 0.8
    pipe = _pipeline(["RED", "BLUE"], t)
    pipe.documents = {("P-RED", "USA"): "RED", ("P-BLUE", "USA"): "BLUE"}
    pipe.document_point = OperatingPoint("fake", "FMR", 1e-3, match=0.8)
    folder = _event(tmp_path)
    event, frames = load_event(folder, pipe)
    assert read_event(folder).documents == ()
    without = pipe.process(event, frames)
    assert {o.decision for o in without.occupants} == {Outcome.NO_MATCH}
    reads = (DocumentRead("C", "P-RED", "USA", "rfid"), DocumentRead("C", "Z9", "CAN", "rfid"))
    got = pipe.process(replace(event, documents=reads), frames)
    found = {o.traveler_id: (o.decision, o.source, o.document) for o in got.occupants}
    assert found.pop("RED") == (Outcome.MATCH, "document", ("P-RED", "USA"))
    assert [d for d, _, _ in found.values()] == [Outcome.NO_MATCH]  # BLUE's card: not read
    assert (got.documents_read, got.documents_unknown, got.documents_unmatched) == (2, 1, ())
    # Both cards read: both occupants verified 1:few.
    stray = pipe.process(replace(event, documents=(DocumentRead("C", "P-BLUE", "USA", "rfid"),
                                                   DocumentRead("C", "P-RED", "USA", "rfid"))),
                         frames)
    assert {o.traveler_id for o in stray.occupants} == {"RED", "BLUE"}
    # A card from the car beside it names GREEN, whom no face here fits: reported, unmatched.
    pipe.gallery = WholeGallery(
        GallerySearch(["RED", "BLUE", "GREEN"], np.vstack([t, np.eye(8)[:1]])))
    pipe.documents[("P-GREEN", "USA")] = "GREEN"
    green = pipe.process(replace(event, documents=(DocumentRead("C", "P-GREEN", "USA", "rfid"),
                                                   )), frames)
    assert green.documents_unmatched == (("GREEN", "P-GREEN", "USA"),)
    assert all(o.traveler_id != "GREEN" for o in green.occupants)


def test_top2_mean_fusion_is_the_mean_of_each_travellers_two_best_shots():
    from bordermatch.lane.pipeline import FUSIONS
    from bordermatch.lane.track import Shot

    eye = np.eye(4, dtype=np.float32)
    search = GallerySearch(["A", "B"], eye[:2])
    vecs = [eye[0], (eye[0] + eye[1]) / np.sqrt(2), eye[1]]
    shots = [Shot("front", k, FACES[0], 50.0, v.astype(np.float32)) for k, v in enumerate(vecs)]
    got = FUSIONS["top2_mean"](search, shots, 16)
    h = 1 / np.sqrt(2)
    np.testing.assert_allclose(got, [(1 + h) / 2, (1 + h) / 2], rtol=1e-6)
    # One shot alone fits B: the maximum would keep its score, the mean halves it.
    np.testing.assert_allclose(FUSIONS["top2_mean"](search, shots[:2], 16), [(1 + h) / 2, h / 2],
                               rtol=1e-6)
    np.testing.assert_allclose(FUSIONS["top2_mean"](search, shots[:1], 16), [1.0, 0.0])


class ChipCountingEmbedder(CountingEmbedder):
    """Takes chips (the face box itself), and counts the network calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def chips(self, image, faces):
        return [(image, f) for f in faces]

    def embed_chips(self, chips):
        self.calls.append(len(chips))
        return np.concatenate([self.inner.embed(image, [f]) for image, f in chips])

    def embed(self, image, faces):
        self.calls.append(len(faces))
        return self.inner.embed(image, faces)


def test_batch_embedding_makes_one_call_per_vehicle_with_the_same_decisions(tmp_path):
    t = _templates()
    folder = _event(tmp_path)
    batched = _pipeline(["RED", "BLUE"], t)
    per_frame = _pipeline(["RED", "BLUE"], t, batch_embedding=False)
    batched.embedder, per_frame.embedder = ChipCountingEmbedder(), ChipCountingEmbedder()
    a, f = _run(batched, folder), _run(per_frame, folder)
    assert batched.embedder.calls == [12]  # 2 people x 2 cameras x 3 frames
    assert per_frame.embedder.calls == [2] * 6
    assert [(o.traveler_id, o.decision, o.score) for o in a.occupants] == \
        [(o.traveler_id, o.decision, o.score) for o in f.occupants]
    assert {o.decision for o in a.occupants} == {Outcome.MATCH}


@pytest.mark.parametrize("field", ["coarse_scale", "roi_coarse_scale"])
@pytest.mark.parametrize("value", [0.0, 1.5])
def test_coarse_scales_outside_their_range_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        LaneConfig(**{field: value})
