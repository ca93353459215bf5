"""Backends registered by name and imported on first use.

A factory is named by ``"module:function"`` so that nothing heavy (onnxruntime, dlib) is
imported until a backend is actually asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from bordermatch.errors import ConfigError

_FACTORIES: dict[tuple[str, str], str] = {
    ("detector", "yunet"): "bordermatch.detect.yunet:create",
    ("detector", "centerface"): "bordermatch.detect.centerface:create",
    ("detector", "scrfd"): "bordermatch.detect.scrfd:create",
    ("embedder", "sface"): "bordermatch.embed.sface:create",
    ("embedder", "dlib"): "bordermatch.embed.dlib_resnet:create",
    ("embedder", "arcface"): "bordermatch.embed.arcface:create",
    ("index", "flat"): "bordermatch.index.flat:create",
    ("index", "faiss"): "bordermatch.index.ann:create",
    ("index", "milvus"): "bordermatch.index.milvus:create",
}


def register(kind: str, name: str, target: str) -> None:
    """Register ``"module:function"`` as the factory for a backend (plugins call this)."""
    _FACTORIES[(kind, name)] = target


def names(kind: str) -> list[str]:
    return sorted(n for k, n in _FACTORIES if k == kind)


def factory(kind: str, name: str) -> Callable[..., Any]:
    try:
        target = _FACTORIES[(kind, name)]
    except KeyError:
        raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(names(kind))}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create(kind: str, name: str, **kwargs: Any) -> Any:
    return factory(kind, name)(**kwargs)
