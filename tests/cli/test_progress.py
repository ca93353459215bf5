"""The progress helper: a tqdm bar on a terminal's stderr only, notes only with -v."""

from __future__ import annotations

import io

from bordermatch.cli.progress import Output, output, progress, set_output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal_shows_counts_and_the_total():
    stream = Terminal()
    with progress("vehicles", "vehicle", Output(), total=3, stream=stream, delay_s=0) as bar:
        for _ in range(3):
            bar.advance()
    assert "vehicles" in stream.getvalue() and "3/3" in stream.getvalue()
    assert bar.count == 3 and bar.elapsed_s >= 0


def test_a_total_known_only_inside_the_library_call():
    stream = Terminal()
    with progress("enrolling", "traveller", Output(), stream=stream, delay_s=0) as bar:
        for i in range(1, 5):
            bar.done_of(i, 4)
    assert "4/4" in stream.getvalue() and bar.count == 4


def test_no_bar_when_stderr_is_not_a_terminal_or_with_quiet():
    pipe = io.StringIO()
    with progress("vehicles", "vehicle", Output(), total=2, stream=pipe, delay_s=0) as bar:
        bar.advance(2)
    assert pipe.getvalue() == "" and bar.count == 2  # still counted for the summary
    stream = Terminal()
    with progress("vehicles", "vehicle", Output(quiet=True), total=2, stream=stream,
                  delay_s=0) as bar:
        bar.advance(2)
    assert stream.getvalue() == ""


def test_notes_reach_stderr_only_with_verbose(capsys):
    with progress("x", "item", Output(), total=1) as bar:
        bar.note("  rejected line 3")
    assert capsys.readouterr().err == ""
    with progress("x", "item", Output(verbose=True), total=1) as bar:
        bar.note("  rejected line 3")
    captured = capsys.readouterr()
    assert "rejected line 3" in captured.err and captured.out == ""


def test_root_switches_merge_into_the_command_ones():
    try:
        set_output(verbose=True, quiet=False)
        assert output().verbose and not output().quiet
        assert output(quiet=True).quiet
    finally:
        set_output(verbose=False, quiet=False)
    assert not output().verbose


def test_a_run_shorter_than_the_delay_leaves_only_its_summary():
    stream = Terminal()
    with progress("vehicles", "vehicle", Output(), total=2, stream=stream) as bar:
        bar.advance(2)
    assert stream.getvalue() == "" and bar.count == 2
