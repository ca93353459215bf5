"""Progress bars for long commands, and the ``-v`` / ``-q`` switches.

A bar is tqdm on stderr, so that stdout (``--json`` lines, results) stays clean; it is off
when stderr is not a terminal (a pipe, a log file, CI) or with ``--quiet``. Per-item notes
(a rejected photo, a skipped frame) go to the command's report file and reach the
terminal only with ``-v``, printed above the bar. The switches work before the command
(``bordermatch -v gallery build ...``) and after it (``... gallery build DIR -v``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import typer
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

Verbose = typer.Option(False, "--verbose", "-v", help="Print per-item notes too.")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")


@dataclass(slots=True)
class Output:
    verbose: bool = False
    quiet: bool = False


_ROOT = Output()


def set_output(verbose: bool, quiet: bool) -> None:
    """The root switches (``bordermatch -v|-q COMMAND``), merged into every command's."""
    _ROOT.verbose, _ROOT.quiet = verbose, quiet


def output(verbose: bool = False, quiet: bool = False) -> Output:
    return Output(verbose or _ROOT.verbose, quiet or _ROOT.quiet)


class Progress:
    """One bar; the total may become known only inside the library call it follows."""

    def __init__(self, bar: tqdm, out: Output) -> None:
        self._bar = bar
        self._out = out
        self._start = time.perf_counter()
        self._n = 0  # a disabled tqdm counts nothing

    def set_total(self, total: int) -> None:
        self._bar.total = total
        self._bar.refresh()

    def advance(self, k: int = 1) -> None:
        self._n += k
        self._bar.update(k)

    def done_of(self, done: int, total: int | None = None) -> None:
        """The ``(done, total)`` callback the library functions take."""
        if total is not None and self._bar.total != total:
            self.set_total(total)
        self.advance(done - self._n)

    def note(self, line: str) -> None:
        """A per-item note: on stderr above the bar with ``-v``, otherwise nowhere (the
        caller has it in its report file)."""
        if self._out.verbose:
            tqdm.write(line, file=sys.stderr)

    @property
    def count(self) -> int:
        return self._n

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start


def bars_enabled(out: Output, stream: IO[str] | None = None) -> bool:
    """Whether a bar would show: for library code that draws its own tqdm bar."""
    return not out.quiet and _is_tty(stream if stream is not None else sys.stderr)


@contextmanager
def progress(desc: str, unit: str, out: Output, total: int | None = None,
             stream: IO[str] | None = None, delay_s: float = 0.5) -> Iterator[Progress]:
    """A :class:`Progress` for the block: counts, rate and ETA on ``stream`` (stderr).

    The bar appears after ``delay_s``: a run shorter than that needs only its summary,
    and a total that the library call finds at its start is known by then."""
    stream = stream if stream is not None else sys.stderr
    bar = tqdm(total=total, desc=desc, unit=unit, file=stream,
               disable=not bars_enabled(out, stream), dynamic_ncols=True, leave=True,
               smoothing=0.1, delay=delay_s)
    try:
        with logging_redirect_tqdm():  # a log line is printed above the bar, not through it
            yield Progress(bar, out)
    finally:
        bar.close()


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or fake stream
        return False
