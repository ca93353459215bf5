"""What every recognizer must do on the shipped photos; each backend's tests call this."""

from __future__ import annotations

import numpy as np

from bordermatch.io.images import load_image


def embed_one(detector, embedder, image) -> np.ndarray:
    faces = detector.detect(image)
    assert faces, "no face"
    v = embedder.embed(image, faces[:1])
    assert v.shape == (1, embedder.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-5)
    return v[0]


def genuine_and_impostor_scores(detector, embedder, publicdomain, astronaut):
    """Cosines of the two different-photo genuine pairs and five impostor pairs."""
    e = {name: embed_one(detector, embedder, load_image(publicdomain / f"{name}.jpg"))
         for name in ("obama", "obama2", "biden", "biden2")}
    e["collins"] = embed_one(detector, embedder, np.ascontiguousarray(astronaut))
    genuine = [e["obama"] @ e["obama2"], e["biden"] @ e["biden2"]]
    impostor = [e["obama"] @ e["biden"], e["obama"] @ e["biden2"], e["obama2"] @ e["biden"],
                e["biden"] @ e["collins"], e["obama"] @ e["collins"]]
    return genuine, impostor
