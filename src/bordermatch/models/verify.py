"""Locate a weight file inside its carrier package and verify it before anything loads it."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from bordermatch.errors import ModelIntegrityError, ModelNotFoundError
from bordermatch.models.manifest import ModelFile


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def locate(model: ModelFile) -> Path:
    """Absolute path of the file. Never imports the carrier (no side effects)."""
    if model.package is None:
        path = Path(model.path)
    else:
        spec = importlib.util.find_spec(model.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                f"{model.name}: carrier package {model.package!r} is not installed "
                "(see docs/models.md for the install command)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / model.path
    if not path.is_file():
        raise ModelNotFoundError(f"{model.name}: {path} does not exist")
    return path


def check_digest(name: str, actual: str, expected: str, what: str = "file") -> None:
    if not expected:
        raise ModelIntegrityError(f"{name}: no SHA-256 recorded for the {what}; refusing to load")
    if actual != expected:
        raise ModelIntegrityError(
            f"{name}: SHA-256 of the {what} is {actual}, expected {expected}"
        )


def read_verified(model: ModelFile) -> bytes:
    """The file's bytes, after checking them against the recorded SHA-256."""
    data = locate(model).read_bytes()
    check_digest(model.name, sha256_bytes(data), model.sha256)
    return data


def verify_file(model: ModelFile) -> Path:
    """Verify a file that a library must open by path (dlib); returns the verified path."""
    path = locate(model)
    check_digest(model.name, sha256_file(path), model.sha256)
    return path
