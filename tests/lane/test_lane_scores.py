"""Lane scores files (lane.scores): what `batch lane-run --scores` writes per chunk and pools."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.errors import ConfigError
from bordermatch.lane.scores import LaneScores, pool
from bordermatch.lane.verification import MatedComparison, VerificationData


def _scores(offset: float, norm: str | None = "snorm", events: int = 2) -> LaneScores:
    searches = {"max_score": {"nonmated": [offset, offset + 0.5], "mated": [offset + 3.0],
                              "rank1": [True]}}
    mated = [MatedComparison(f"veh{offset:g}", "r1-left", "day", offset + 4.0,
                             {"windshield": offset + 4.5}),
             MatedComparison(f"veh{offset:g}b", "r2-right", "night", None, {})]
    nonmated = [np.asarray([offset - 1.0, offset - 2.0], np.float32)]
    meta = {"model": "sface", "normalisation": norm, "one_to_one": True, "events": events,
            "event_ids": [f"v{offset:g}-{i}" for i in range(events)],
            "observed_with": {"detector": "yunet", "detector_score": None, "config": {},
                              "gallery_sha256": f"sha{offset:g}"},
            "search_point": None, "document_point": None}
    return LaneScores(searches, VerificationData(mated, nonmated), meta)


def test_a_scores_file_reads_back_what_was_written(tmp_path):
    path = tmp_path / "s.npz"
    path.write_bytes(_scores(1.0).to_bytes())
    back = LaneScores.read(path)
    assert back.searches == _scores(1.0).searches
    assert back.verification.mated == _scores(1.0).verification.mated
    assert back.verification.nonmated_scores().tolist() == [0.0, -1.0]
    assert back.meta == _scores(1.0).meta


def test_pooled_scores_keep_the_parts_in_order():
    pooled = pool([_scores(1.0), _scores(10.0, events=3)], "test")
    assert pooled.searches["max_score"]["nonmated"] == [1.0, 1.5, 10.0, 10.5]
    assert [m.event_id for m in pooled.verification.mated] == ["veh1", "veh1b", "veh10",
                                                               "veh10b"]
    assert pooled.verification.nonmated_scores().tolist() == [0.0, -1.0, 9.0, 8.0]
    assert pooled.meta["events"] == 5 and len(pooled.meta["event_ids"]) == 5


def test_scores_on_two_scales_or_observed_two_ways_are_not_pooled():
    with pytest.raises(ConfigError, match="normalisation"):
        pool([_scores(1.0), _scores(2.0, norm=None)], "test")
    other = _scores(2.0)
    other.meta["observed_with"] = {**other.meta["observed_with"], "config": {"shots": 1}}
    with pytest.raises(ConfigError, match="other detector or lane options"):
        pool([_scores(1.0), other], "test")
    with pytest.raises(ConfigError, match="no scores"):
        pool([], "test")


def test_a_file_without_one_to_one_scores_says_so():
    scores = _scores(1.0)
    assert scores.one_to_one("x") == "snorm"
    scores.meta["one_to_one"] = False
    with pytest.raises(ConfigError, match="no 1:1 comparisons were kept"):
        scores.one_to_one("x")


def _tampered(tmp_path, change) -> str:
    """A scores file with one entry replaced: the error ``read`` raises."""
    import io

    with np.load(io.BytesIO(_scores(1.0).to_bytes())) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    path = tmp_path / "t.npz"
    np.savez(path, **arrays)
    with pytest.raises(ConfigError) as err:
        LaneScores.read(path)
    return str(err.value)


def test_a_tampered_scores_file_is_one_clear_error(tmp_path):
    import json

    def drop_model(a):
        meta = json.loads(str(a["meta"]))
        del meta["model"]
        a["meta"] = np.array(json.dumps(meta))

    assert "meta lacks ['model']" in _tampered(tmp_path, drop_model)
    assert "not 1-D float" in _tampered(
        tmp_path, lambda a: a.update({"max_score.mated": np.zeros((2, 2))}))
    assert "not 1-D float" in _tampered(
        tmp_path, lambda a: a.update({"max_score.nonmated": np.array(["x", "y"])}))
    assert "malformed mated" in _tampered(tmp_path, lambda a: a.update(
        {"verification.mated": np.array(json.dumps([{"event_id": "v", "seat": "",
                                                     "daylight": "day", "score": 1.0,
                                                     "by_camera": {}}]))}))
    assert "fusions" in _tampered(tmp_path, lambda a: [a.pop(k) for k in list(a)
                                                       if k.startswith("max_score.")])


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", None])
def test_a_file_that_is_no_scores_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, vectors=np.zeros(3))  # an npz, of something else
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match="scores file"):
        LaneScores.read(path)
    with pytest.raises(ConfigError, match="is a directory"):
        LaneScores.read(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        LaneScores.read(tmp_path / "missing.npz")
