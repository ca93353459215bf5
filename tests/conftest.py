"""Shared fixtures. Tests that need ../shared/data skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLICDOMAIN = ROOT / "src" / "bordermatch" / "data" / "publicdomain"
SHARED_DATA = Path(os.environ.get("BORDERMATCH_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def publicdomain() -> Path:
    return PUBLICDOMAIN


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA} (set BORDERMATCH_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lfw_dir(shared_data: Path) -> Path:
    path = shared_data / "lfw"
    if not (path / "pairs.txt").is_file():
        pytest.skip(f"LFW not found under {path}")
    return path


@pytest.fixture(scope="session")
def astronaut():
    """NASA astronaut Eileen Collins (public domain), shipped with scikit-image."""
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


@pytest.fixture(scope="session")
def ambiguous_photo(publicdomain: Path, tmp_path_factory) -> Path:
    """Obama and Biden at similar size, both near the centre: a photo with no clear subject."""
    from PIL import Image

    canvas = Image.new("RGB", (640, 300), (200, 200, 200))
    for name, x, y in (("obama.jpg", 20, 70), ("biden.jpg", 320, 40)):
        img = Image.open(publicdomain / name)
        canvas.paste(img.resize((300, round(300 * img.size[1] / img.size[0]))), (x, y))
    out = tmp_path_factory.mktemp("ambiguous") / "two.jpg"
    canvas.save(out)
    return out
