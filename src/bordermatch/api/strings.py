"""Strings the database can store, checked in the application for every text input.

PostgreSQL refuses NUL bytes and lone surrogates and enforces column widths; SQLite stores
all of them. So the same rule runs here, for both: no NUL or other control characters
(tab, CR and LF only in free text), no lone surrogates (what invalid UTF-8 decodes to with
``surrogateescape``, or a JSON ``"\\ud800"``), and no more characters than the column holds.
A violation is a 422 ``unstorable_value`` (``problems.py`` maps the pydantic error type).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Form, Path, Query
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from bordermatch.errors import UnstorableValueError

CODE = "unstorable_value"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# U+FFFD is what a server-side decoder (Starlette's URL path, for one) puts for invalid
# UTF-8, so it is refused with the lone surrogates.
_SURROGATE = re.compile(r"[\ud800-\udfff\ufffd]")


def unstorable_reason(value: str, max_length: int, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored, or None when it can."""
    if len(value) > max_length:
        return f"longer than {max_length} characters"
    if "\x00" in value:
        return "holds a NUL byte"
    if _SURROGATE.search(value):
        return "is not valid Unicode (a lone surrogate or invalid UTF-8)"
    if (_CONTROL_TEXT if multiline else _CONTROL).search(value):
        return "holds a control character"
    return None


def _checker(max_length: int, multiline: bool):
    def check(value: Any) -> Any:
        # Non-strings fall through to pydantic's own type error.
        if isinstance(value, str):
            why = unstorable_reason(value, max_length, multiline)
            if why:
                raise PydanticCustomError(CODE, "value cannot be stored: {why}", {"why": why})
        return value
    return check


# Storable string types, one module-level alias per parameter set in use, so that type
# checkers read them as types; the storability check runs before the length limits.
# Models (``Text``):
IdText = Annotated[str, Field(min_length=1, max_length=64), BeforeValidator(_checker(64, False))]
NameText = Annotated[str, Field(min_length=1, max_length=200),
                     BeforeValidator(_checker(200, False))]
ReasonText = Annotated[str, Field(min_length=1, max_length=2000),
                       BeforeValidator(_checker(2000, True))]
# Path parameters (``PathId``):
PathId64 = Annotated[str, Path(max_length=64), BeforeValidator(_checker(64, False))]
# Form fields (``FormText``):
FormId = Annotated[str, Form(min_length=1, max_length=64), BeforeValidator(_checker(64, False))]
FormCode = Annotated[str, Form(min_length=1, max_length=32), BeforeValidator(_checker(32, False))]
FormName = Annotated[str, Form(min_length=1, max_length=200),
                     BeforeValidator(_checker(200, False))]
FormNameOrEmpty = Annotated[str, Form(min_length=0, max_length=200),
                            BeforeValidator(_checker(200, False))]
# MRZ lines, one per line of text (2 or 3 lines of 30-44 characters).
FormMrz = Annotated[str | None, Form(max_length=200), BeforeValidator(_checker(200, True))]
FormCountry = Annotated[str, Form(min_length=2, max_length=3), BeforeValidator(_checker(3, False))]
FormIdOptional = Annotated[str | None, Form(min_length=1, max_length=64),
                           BeforeValidator(_checker(64, False))]
FormCountryOptional = Annotated[str | None, Form(min_length=2, max_length=3),
                                BeforeValidator(_checker(3, False))]
FormPositions = Annotated[str, Form(min_length=1, max_length=200),
                          BeforeValidator(_checker(200, False))]
# Query parameters (``QueryText``):
QueryText16 = Annotated[str | None, Query(max_length=16), BeforeValidator(_checker(16, False))]
QueryText64 = Annotated[str | None, Query(max_length=64), BeforeValidator(_checker(64, False))]
QueryText80 = Annotated[str | None, Query(max_length=80), BeforeValidator(_checker(80, False))]


def check(value: str, max_length: int, what: str, multiline: bool = False) -> None:
    """Raise the same refusal outside pydantic (event fields)."""
    why = unstorable_reason(value, max_length, multiline)
    if why:
        raise UnstorableValueError(f"{what} {why}")
