"""Timing helper shared by the benchmark runners."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def timed(fn: Callable[[], object], repeats: int, warmup: int = 3) -> np.ndarray:
    """Wall time of ``repeats`` calls after ``warmup`` untimed ones, in milliseconds."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.asarray(out) * 1000.0


def machine_line(*extra: str) -> str:
    """The header every runner prints, so recorded figures carry the machine they came from."""
    import os
    import platform
    import sys

    parts = [f"# {platform.node()} {platform.processor() or platform.machine()}",
             f"{os.cpu_count()} cores", f"python {sys.version.split()[0]}", *extra]
    return ", ".join(parts)
