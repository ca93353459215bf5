"""Helpers shared by the CLI modules: settings, JSON output, error exits.

Exit codes (README "Exit codes"): 0 done, 1 a check that ran and failed (document mrz,
audit verify), 2 bad input or configuration, 3 a model file problem, 4 the operating system
refused a file, 5 the database could not be opened. ``--json`` never changes an exit code.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from bordermatch.config import Settings
from bordermatch.errors import BordermatchError

EXIT_CHECK_FAILED = 1
EXIT_INPUT = 2
EXIT_MODEL = 3
EXIT_OS = 4  # the operating system refused a file (missing, a directory, permissions, disk)
EXIT_DB = 5  # the database at --database-url cannot be opened (no server, no such database)


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


def os_error(exc: OSError) -> tuple[str, str, int]:
    where = f"{exc.filename}: " if exc.filename else ""
    return "os_error", f"{where}{exc.strerror or exc}", EXIT_OS


def database_error(exc: BaseException) -> tuple[str, str, int] | None:
    """(code, detail, exit code) for a SQLAlchemy error that means the database cannot be
    opened or its URL is wrong; None for any other exception (a bug keeps its traceback).

    SQLAlchemy is looked up in ``sys.modules``: a command that never imported it cannot
    have raised one of its errors, and the core CLI must not need the service extra.
    """
    sa = sys.modules.get("sqlalchemy.exc")
    if sa is None or not isinstance(exc, sa.SQLAlchemyError):
        return None
    if isinstance(exc, sa.ArgumentError | sa.NoSuchModuleError):
        return "config_error", f"bad database URL: {str(exc).splitlines()[0]}", EXIT_INPUT
    # A bare DatabaseError is SQLite's "file is not a database"; its subclasses that are not
    # about reaching the database (IntegrityError, ProgrammingError, ...) are bugs.
    if isinstance(exc, sa.OperationalError | sa.InterfaceError) \
            or type(exc) is sa.DatabaseError:
        orig = getattr(exc, "orig", None) or exc
        # psycopg's text spans lines and starts "connection failed:"; one line is enough.
        reason = " ".join(str(orig).split()).removeprefix("connection failed: ")
        return "database_unavailable", f"cannot open the database: {reason}", EXIT_DB
    return None


class ErrorsGroup(TyperGroup):
    """The root command group: every sub-command runs inside :meth:`invoke`, so an OSError
    or an unopenable database escaping any of them becomes one line and a stable exit code
    here, instead of a handler in each command (or a traceback where one is missing)."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context, a private type
        # The sub-command's tokens, read before the group consumes them: with --json the
        # error is a JSON object on stdout, as ``fail`` writes it, with the same exit code.
        as_json = "--json" in (*getattr(ctx, "_protected_args", ()), *ctx.args)
        try:
            return super().invoke(ctx)
        except OSError as exc:
            _refuse(*os_error(exc), as_json)
        except Exception as exc:
            found = database_error(exc)
            if found is None:
                raise
            _refuse(*found, as_json)


def _refuse(code: str, detail: str, exit_code: int, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"error": code, "detail": detail})
    else:
        typer.echo(f"error ({code}): {detail}", err=True)
    raise typer.Exit(exit_code) from None
