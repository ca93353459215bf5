"""Helpers shared by the CLI modules: settings, JSON output, error exits."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from bordermatch.config import Settings
from bordermatch.errors import BordermatchError

EXIT_INPUT = 2
EXIT_MODEL = 3


def settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=_default) + "\n")
    sys.stdout.flush()


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def fail(exc: BordermatchError, as_json: bool = False) -> None:
    from bordermatch.errors import ModelError

    if as_json:
        emit_json({"error": exc.code, "detail": str(exc)})
    else:
        typer.echo(f"error ({exc.code}): {exc}", err=True)
    raise typer.Exit(EXIT_MODEL if isinstance(exc, ModelError) else EXIT_INPUT)
