"""Helpers shared by the CLI modules: settings, JSON output, error exits."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from bordermatch.config import Settings
from bordermatch.errors import BordermatchError

EXIT_INPUT = 2
EXIT_MODEL = 3
EXIT_OS = 4  # the operating system refused a file (missing, a directory, permissions)

_F = TypeVar("_F", bound=Callable[..., Any])


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


def os_errors(command: _F) -> _F:
    """Turn an OSError escaping a command into one stderr line and ``EXIT_OS``.

    Applied where a command is registered (cli/__init__: today verify and detect), so the
    command itself needs no handler; the error names the file and the OS reason, never a
    traceback.
    """
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            typer.echo(f"error (os_error): {where}{exc.strerror or exc}", err=True)
            raise typer.Exit(EXIT_OS) from None
    return wrapper  # type: ignore[return-value]
