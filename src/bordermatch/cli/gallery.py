"""``bordermatch gallery build``: enrol a gallery directory into a template file."""

from __future__ import annotations

from pathlib import Path

import typer

from bordermatch.cli._common import emit_json, fail, settings
from bordermatch.cli.progress import Quiet, Verbose, output, progress
from bordermatch.errors import BordermatchError

app = typer.Typer(no_args_is_help=True, help="Traveller galleries.")


@app.command("build")
def build(
    gallery_dir: Path = typer.Argument(..., help="Directory with manifest.csv and the photos."),
    out: Path = typer.Option(..., "--out", help="Template file to write (OUT.npz + OUT.json)."),
    embedder: str = typer.Option("sface", help="Recognizer for the templates."),
    detector: str | None = typer.Option(None, help="Face detector (default: settings)."),
    min_quality: float = typer.Option(
        30.0, help="Unified quality below which a photo is enrolled but flagged."),
    same_face_fmr: float = typer.Option(
        1e-5, help="Target FMR of the strict threshold that flags one face under two ids "
        "(the strictest calibrated one, as the service uses for alias alerts)."),
    first_reference_only: bool = typer.Option(
        False, "--first-reference-only",
        help="Enrol each traveller's first usable photo only (to measure what the rest buy)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    verbose: bool = Verbose,
    quiet: bool = Quiet,
) -> None:
    """Enrol every photo; problems go to the report (the OUT.json sidecar), never into a
    crash. The console gets a progress bar and a summary; the per-photo notes with -v."""
    from bordermatch import registry
    from bordermatch.gallery.build import enrol, strict_cosine_threshold
    from bordermatch.gallery.enrol import portrait_detector
    from bordermatch.gallery.file import save
    from bordermatch.quality.measures import FaceQualityAssessor

    cfg = settings(detector=detector)
    shown = output(verbose, quiet)
    try:
        threshold = strict_cosine_threshold(embedder, same_face_fmr)
        det = portrait_detector(cfg.detector, cfg.detector_options())  # with the retry
        emb = registry.create("embedder", embedder)
        with progress("enrolling", "traveller", shown) as bar:
            gallery = enrol(gallery_dir, det, emb, FaceQualityAssessor(),
                            min_quality=min_quality, same_face_threshold=threshold,
                            first_reference_only=first_reference_only, progress=bar.done_of)
        npz, sidecar = save(gallery, out)
    except BordermatchError as exc:
        fail(exc, as_json)
    report = gallery.report
    if as_json:
        emit_json(report)
        return
    if shown.verbose:
        for line in notes(report, threshold, same_face_fmr):
            typer.echo(line, err=True)
    typer.echo(f"enrolled {report['enrolled']} photos of {report['travelers']} travellers "
               f"from {report['rows']} rows in {bar.elapsed_s:.1f} s -> {npz} "
               f"(+ {sidecar.name}); {_counts('rejected', report['rejected'])}, "
               f"{_counts('flagged', report['flagged'])}, "
               f"{len(report['same_face_pairs'])} same-face pairs"
               + ("" if shown.verbose else f" (each listed in {sidecar.name}; -v prints them)"))


def notes(report: dict, threshold: float, same_face_fmr: float) -> list[str]:
    """One line per rejected or flagged photo and per same-face pair."""
    lines = [f"  rejected line {e['line']} {e['traveler_id']}: {e['reason']} ({e['detail']})"
             for e in report["rejected"]]
    lines += [f"  flagged line {e['line']} {e['traveler_id']}: {e['detail']}"
              for e in report["flagged"]]
    lines += [f"  same face? {p['a']} and {p['b']}: cosine {p['score']:.3f} "
              f">= {threshold:.3f} (FMR {same_face_fmr:g})" for p in report["same_face_pairs"]]
    return lines


def _counts(what: str, entries: list[dict]) -> str:
    by: dict[str, int] = {}
    for e in entries:
        by[e["reason"]] = by.get(e["reason"], 0) + 1
    detail = ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
    return f"{len(entries)} {what}" + (f" ({detail})" if detail else "")
