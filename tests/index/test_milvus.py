"""Milvus backend specifics, on embedded Milvus Lite: persistence and configuration checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bordermatch.errors import ConfigError, InputError

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from bordermatch.index.milvus import MilvusIndex


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def test_gallery_persists_and_dimension_is_checked(tmp_path: Path) -> None:
    uri = str(tmp_path / "milvus.db")
    x = unit(np.random.default_rng(0).standard_normal((200, 16)))
    first = MilvusIndex(16, uri=uri, collection="crossing_a")
    first.add([f"p{i}" for i in range(200)], x)
    first.remove(["p0"])
    first.close()
    again = MilvusIndex(16, uri=uri, collection="crossing_a")
    assert len(again) == 199 and "p0" not in again and "p1" in again
    assert again.search(x[1:3], 1)[1] == [["p1"], ["p2"]]
    with pytest.raises(ConfigError, match="dim 16"):
        MilvusIndex(32, uri=uri, collection="crossing_a")
    with pytest.raises(ConfigError):
        MilvusIndex(16, uri=uri, collection="bad-name; drop")
    with pytest.raises(InputError):  # the id field is VARCHAR(128)
        again.add(["x" * 129], x[:1])
    again.drop()
    assert len(MilvusIndex(16, uri=uri, collection="crossing_a")) == 0
