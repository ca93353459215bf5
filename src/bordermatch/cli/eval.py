"""``bordermatch eval ...``: ISO/IEC 19795 evaluations. Each command lives in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Evaluate accuracy (ISO/IEC 19795 metrics).")

from bordermatch.cli.eval_detection import detection  # noqa: E402

app.command("detection")(detection)

from bordermatch.cli.eval_lfw import calibrate, lfw  # noqa: E402

app.command("lfw")(lfw)
app.command("calibrate")(calibrate)

from bordermatch.cli.eval_pairs import lfw_pairs, score_pairs  # noqa: E402

app.command("lfw-pairs")(lfw_pairs)
app.command("score-pairs")(score_pairs)
