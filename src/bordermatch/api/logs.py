"""Keep identifiers out of the access log.

Uvicorn logs every request line with its full path and query, so ``GET
/v1/travelers/T-1234/crossings`` would put a traveller id in a plain-text log that outlives
every retention rule. ``RedactPaths`` rewrites the logged path to its route template
(``/v1/travelers/{traveler_id}/crossings``) and each query value to ``_``; a path that
matches no route is logged as ``(unmatched)``. ``create_app`` attaches it to the
``uvicorn.access`` logger for the app's lifetime (after uvicorn has configured logging).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

from starlette.routing import Mount

ACCESS_LOGGER = "uvicorn.access"
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def _flat(routes):
    # FastAPI may keep an included router as one entry; its routes carry their full paths
    # (create_app includes routers without an extra prefix).
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route


def redact(routes, full_path: str) -> str:
    path, _, query = full_path.partition("?")
    out = "(unmatched)"
    for route in _flat(routes):
        if isinstance(route, Mount):
            if path == route.path or path.startswith(route.path + "/"):
                out = f"{route.path}/{{path}}"
                break
            continue
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            out = route.path
            break
    if query:
        names = [k if _PARAM_NAME.fullmatch(k) else "_"
                 for k, _ in parse_qsl(query, keep_blank_values=True)]
        out += "?" + "&".join(f"{k}=_" for k in names)
    return out


class RedactPaths(logging.Filter):
    """Rewrites uvicorn's access record ``(client, method, path, http_version, status)``."""

    def __init__(self, app) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], redact(self.app.routes, args[2]), *args[3:])
        return True


def attach(app) -> RedactPaths:
    f = RedactPaths(app)
    logging.getLogger(ACCESS_LOGGER).addFilter(f)
    return f


def detach(f: RedactPaths) -> None:
    logging.getLogger(ACCESS_LOGGER).removeFilter(f)
