"""The ``bordermatch`` command line. Sub-commands live one group per module."""

from __future__ import annotations

import logging

import typer

from bordermatch.cli import batch, blobs, document, face, gallery, gate, lane, models
from bordermatch.cli import eval as eval_cli
from bordermatch.cli import fingerprint as fingerprint_cli
from bordermatch.cli import index as index_cli
from bordermatch.cli import ingest as ingest_cli
from bordermatch.cli import service as service_cli
from bordermatch.cli import watchlist as watchlist_cli
from bordermatch.cli._common import ErrorsGroup
from bordermatch.cli.progress import set_output

# ErrorsGroup: an OSError or an unopenable database in any command is one line, exit 4 or 5.
app = typer.Typer(cls=ErrorsGroup, no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Biometric entry/exit verification for border crossings.")
app.command("verify")(face.verify)
app.command("detect")(face.detect)
app.add_typer(models.app, name="models")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(gallery.app, name="gallery")
app.add_typer(batch.app, name="batch")  # gallery enrolment across processes
app.add_typer(lane.app, name="lane")
app.add_typer(gate.app, name="gate")
service_cli.register(app)  # serve, purge, keys, audit, db
app.add_typer(blobs.app, name="blobs")
app.add_typer(document.app, name="document")
app.add_typer(fingerprint_cli.app, name="fingerprint")
ingest_cli.register(app)  # worker, ingest publish-lane|dead-letters
app.add_typer(index_cli.app, name="index")  # the shared 1:N index (Milvus)
app.add_typer(watchlist_cli.app, name="watchlist")  # the service's watchlist (supervisors)


@app.callback()
def _root(verbose: bool = typer.Option(
              False, "--verbose", "-v", help="Per-item notes and debug logging."),
          quiet: bool = typer.Option(
              False, "--quiet", "-q", help="No progress bars (they are off anyway when "
              "stderr is not a terminal).")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    set_output(verbose=verbose, quiet=quiet)


def main() -> None:
    app()
