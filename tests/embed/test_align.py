from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bordermatch.embed.align import ARCFACE_112, align, similarity_transform


@settings(max_examples=60, deadline=None)
@given(
    angle=st.floats(-math.pi, math.pi),
    scale=st.floats(0.2, 5.0),
    tx=st.floats(-300, 300),
    ty=st.floats(-300, 300),
)
def test_recovers_an_exact_similarity(angle, scale, tx, ty):
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    src = ARCFACE_112 @ np.array([[c, s], [-s, c]]) + [tx, ty]
    m = similarity_transform(src, ARCFACE_112)
    mapped = src @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_112, atol=1e-6)


def test_degenerate_points_raise():
    import pytest

    with pytest.raises(ValueError):
        similarity_transform(np.zeros((5, 2)), ARCFACE_112)


def test_align_puts_landmark_pixels_on_the_template():
    img = np.zeros((400, 400, 3), np.uint8)
    lm = ARCFACE_112 * 2.5 + [60, 80]
    for x, y in lm:
        img[round(y) - 2:round(y) + 3, round(x) - 2:round(x) + 3] = 255
    chip = align(img, lm)
    assert chip.shape == (112, 112, 3)
    for x, y in ARCFACE_112:
        assert chip[round(y), round(x)].max() > 200
