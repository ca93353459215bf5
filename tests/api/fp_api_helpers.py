"""Prints and calls for the handheld fingerprint tests (UPEK images from the shared data)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tests.api.api_helpers import auth

POST = "post-1"  # the handheld's post, one of the lanes the test keys are bound to


def upek(data: Path, finger: int, impression: int) -> bytes:
    return (data / "upek" / f"{finger}_{impression}.png").read_bytes()


def poor_print(data: Path) -> bytes:
    """A real print blurred and drowned in noise: still a fingerprint to NFIQ 2 and SIVV,
    but scored far below 30 (18 here), as a smeared, wet capture would be."""
    img = Image.open(data / "upek" / "1_2.png").convert("L").filter(ImageFilter.GaussianBlur(2))
    noisy = np.asarray(img, float) + np.random.default_rng(0).normal(0, 50, (img.height,
                                                                             img.width))
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def files(prints: list[bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("fingers", (f"f{i}.png", p, "image/png")) for i, p in enumerate(prints)]


def enrol_subject(client, token: str, subject: str, prints: list[bytes], positions: str):
    return client.post("/v1/watchlist/subjects", headers=auth(token),
                       data={"subject_id": subject, "reference": f"case {subject}",
                             "positions": positions}, files=files(prints))


def search(client, token: str, prints: list[bytes], positions: str, **extra):
    return client.post("/v1/fingerprints/search", headers=auth(token),
                       data={"lane": POST, "positions": positions, **extra},
                       files=files(prints))
