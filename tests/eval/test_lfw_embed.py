"""The LFW embedding stage: face choice, cache keys, and a real run with cache resume."""

from __future__ import annotations

import numpy as np
import pytest

from bordermatch.eval.lfw_embed import (
    STATUS_FTE,
    EmbedConfig,
    cache_path,
    embed_images,
    load_cache,
)


def test_config_key_changes_with_the_pipeline():
    assert EmbedConfig().key() == EmbedConfig().key()
    assert EmbedConfig(dlib_box="yunet").key() != EmbedConfig().key()


@pytest.mark.slow
def test_embed_images_real_models_and_cache(publicdomain, tmp_path):
    names = ["obama.jpg", "obama2.jpg", "biden.jpg"]
    cfg = EmbedConfig()
    emb = embed_images(publicdomain, names, cfg, tmp_path, workers=1, progress=False)
    assert emb.names == tuple(names)
    assert np.all(emb.status != STATUS_FTE)
    for m in ("sface", "dlib"):
        v = emb.vectors[m]
        assert v.shape == (3, 128)
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
        assert v[0] @ v[1] > v[0] @ v[2]  # Obama-Obama above Obama-Biden
    assert np.all(emb.times[:, 1:] > 0)
    cached = load_cache(cache_path(tmp_path, cfg))
    assert set(cached) == set(names)
    # A second call computes nothing: it must return the cached vectors unchanged, even
    # with no usable root directory.
    again = embed_images(tmp_path / "missing", names, cfg, tmp_path, workers=1, progress=False)
    np.testing.assert_array_equal(again.vectors["dlib"], emb.vectors["dlib"])
    flipped = embed_images(tmp_path / "missing", names, cfg, tmp_path, progress=False, flip=True)
    assert not np.array_equal(flipped.vectors["sface"], emb.vectors["sface"])


def test_unreadable_image_is_a_failure_to_enrol(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "broken.jpg").write_bytes(b"not a jpeg")
    emb = embed_images(tmp_path / "img", ["broken.jpg"], EmbedConfig(), tmp_path / "c",
                       workers=1, progress=False)
    assert emb.status[0] == STATUS_FTE and not emb.vectors["sface"].any()
