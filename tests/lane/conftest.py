"""Fixtures for lane tests: a tiny LFW-style face directory from the shipped public-domain
photos (Obama and Biden with two photos each, the astronaut with one)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pd_faces(tmp_path_factory, publicdomain: Path, astronaut) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("pd_faces")
    for name, files in (("Barack_Obama", ("obama.jpg", "obama2.jpg")),
                        ("Joe_Biden", ("biden2.jpg", "biden.jpg"))):
        (root / name).mkdir()
        for i, f in enumerate(files, start=1):
            shutil.copyfile(publicdomain / f, root / name / f"{name}_{i:04d}.jpg")
    (root / "Eileen_Collins").mkdir()
    Image.fromarray(astronaut).save(root / "Eileen_Collins" / "Eileen_Collins_0001.jpg")
    return root
