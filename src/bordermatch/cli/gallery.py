"""``bordermatch gallery build``: enrol a gallery directory into a template file."""

from __future__ import annotations

from pathlib import Path

import typer

from bordermatch.cli._common import emit_json, fail, settings
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
) -> None:
    """Enrol every photo; problems go to the report, never into a crash."""
    from bordermatch import registry
    from bordermatch.gallery.build import enrol, strict_cosine_threshold
    from bordermatch.gallery.enrol import portrait_detector
    from bordermatch.gallery.file import save
    from bordermatch.quality.measures import FaceQualityAssessor

    cfg = settings(detector=detector)
    try:
        threshold = strict_cosine_threshold(embedder, same_face_fmr)
        det = portrait_detector(cfg.detector, cfg.detector_options())  # with the retry
        emb = registry.create("embedder", embedder)
        gallery = enrol(gallery_dir, det, emb, FaceQualityAssessor(), min_quality=min_quality,
                        same_face_threshold=threshold,
                        first_reference_only=first_reference_only)
        npz, sidecar = save(gallery, out)
    except BordermatchError as exc:
        fail(exc, as_json)
    report = gallery.report
    if as_json:
        emit_json(report)
        return
    typer.echo(f"enrolled {report['enrolled']} photos of {report['travelers']} travellers "
               f"from {report['rows']} rows -> {npz} (+ {sidecar.name})")
    for entry in report["rejected"]:
        typer.echo(f"  rejected line {entry['line']} {entry['traveler_id']}: {entry['reason']}"
                   f" ({entry['detail']})")
    for entry in report["flagged"]:
        typer.echo(f"  flagged line {entry['line']} {entry['traveler_id']}: {entry['detail']}")
    for pair in report["same_face_pairs"]:
        typer.echo(f"  same face? {pair['a']} and {pair['b']}: cosine {pair['score']:.3f} "
                   f">= {threshold:.3f} (FMR {same_face_fmr:g})")
