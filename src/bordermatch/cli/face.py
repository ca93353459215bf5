"""``bordermatch verify`` (1:1, single or batch) and ``bordermatch detect``."""

from __future__ import annotations

from pathlib import Path

import typer

from bordermatch.cli._common import EXIT_INPUT, emit_json, fail, settings
from bordermatch.cli.progress import bars_enabled, output
from bordermatch.errors import BordermatchError


def verify(
    image_a: Path | None = typer.Argument(None, help="First image (e.g. the live capture)."),
    image_b: Path | None = typer.Argument(None, help="Second image (e.g. the document photo)."),
    pairs: Path | None = typer.Option(None, "--pairs", help="TSV file: pathA<TAB>pathB per line."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    matcher: str | None = typer.Option(None, help="sface | dlib | fusion | cascade"),
    target_fmr: float | None = typer.Option(None, help="Operating point (false match rate)."),
) -> None:
    """Compare two face images 1:1, or every pair in a TSV file."""
    from bordermatch.match.engine import FaceEngine
    from bordermatch.match.pairs import PairVerifier

    if (pairs is None) == (image_a is None or image_b is None):
        raise typer.BadParameter("give either two images or --pairs FILE")
    try:
        engine = FaceEngine.from_settings(settings(matcher=matcher, target_fmr=target_fmr))
    except BordermatchError as exc:
        fail(exc, as_json)
    verifier = PairVerifier(engine)
    if pairs is not None:
        try:
            for row in verifier.run_file(pairs, progress=bars_enabled(output())):
                emit_json(row) if as_json else typer.echo(_line(row))
        except BordermatchError as exc:  # the pairs file itself is unreadable
            fail(exc, as_json)
        return
    row = verifier.verify_pair(str(image_a), str(image_b), details=True)
    if as_json:
        emit_json(row)
        if row["error"]:
            raise typer.Exit(EXIT_INPUT)  # the same exit as in text mode
        return
    if row["error"]:
        # Name the image that failed: a bare "no face found" does not say which of the two.
        image = row[row["side"]] if row.get("side") else ""
        detail = row.get("detail", "")
        if image and image not in detail:
            detail = f"{image}: {detail}"
        typer.echo(f"error ({row['error']}): {detail}", err=True)
        raise typer.Exit(EXIT_INPUT)
    typer.echo(_line(row))
    for side in ("a", "b"):
        if row["ambiguous"][side]:
            typer.echo(f"  warning: {side} holds {row['faces'][side]} faces, another of similar"
                       " size near the centre; compared the larger, more central one")
    for side in ("a", "b"):
        q = row["quality"][side]
        typer.echo(
            f"  {side}: unified quality {q['unified']:.0f}/100, "
            f"inter-eye {q['inter_eye_distance']:.0f}px, "
            f"sharpness {q['sharpness']:.0f}, yaw {q['yaw']:+.0f}, pitch {q['pitch']:+.0f}, "
            f"roll {q['roll']:+.0f}"
        )


def _line(row: dict) -> str:
    if row["error"]:
        return f"{row['a']}\t{row['b']}\terror={row['error']}"
    sides = ",".join(s for s in ("a", "b") if row["ambiguous"][s])
    return (f"{row['a']}\t{row['b']}\tscore={row['score']:.3f}\tdecision={row['decision']}"
            f"\t(threshold {row['threshold']:.3f} at FMR {row['target_fmr']:g})"
            + (f"\tambiguous={sides}" if sides else ""))


def detect(
    image: Path = typer.Argument(..., help="Image to search for faces."),
    out: Path | None = typer.Option(None, "--out", help="Write an annotated PNG here."),
    as_json: bool = typer.Option(False, "--json"),
    detector: str | None = typer.Option(None, help="yunet | centerface | scrfd"),
) -> None:
    """Find every face: box, five landmarks, score and quality; mark the photo's subject.

    The subject is the face that ``verify`` and enrolment would use (gallery.enrol's rule).
    When no face reaches the detector's operating point, the faces found at the lower retry
    score are listed instead, and ``retried`` says so.
    """
    from bordermatch.gallery.enrol import choose_subject, portrait_detector
    from bordermatch.io.annotate import draw_faces
    from bordermatch.io.images import load_image
    from bordermatch.quality.measures import FaceQualityAssessor

    cfg = settings(detector=detector)
    try:
        img = load_image(image, cfg.limits)
        faces, retried = portrait_detector(cfg.detector, cfg.detector_options()).candidates(img)
    except BordermatchError as exc:
        fail(exc, as_json)
    choice = choose_subject(faces, img.shape[1], img.shape[0], retried) if faces else None
    assessor = FaceQualityAssessor()
    rows = []
    for f in faces:
        q = assessor.assess(img, f)
        rows.append({"box": [round(float(v), 1) for v in f.box],
                     "landmarks": [[round(float(x), 1), round(float(y), 1)]
                                   for x, y in f.landmarks],
                     "score": round(f.score, 4), "quality": round(q.unified, 1),
                     "subject": choice is not None and f is choice.face})
    if out is not None:
        try:
            draw_faces(img, faces, out, choice.face if choice is not None else None)
        except Exception as exc:  # OpenCV raises cv2.error, not OSError, for a bad target
            raise OSError(0, f"cannot write the annotated image ({type(exc).__name__})",
                          str(out)) from None
        if not as_json:
            typer.echo(f"wrote annotated image to {out}", err=True)
    ambiguous = choice is not None and choice.ambiguous
    if as_json:
        emit_json({"image": str(image), "faces": rows, "ambiguous": ambiguous,
                   "retried": retried})
        return
    typer.echo(f"{len(rows)} face(s) in {image}"
               + (" (none at the operating point; found at the retry score)" if retried else ""))
    for i, r in enumerate(rows):
        mark = "  <- subject" if r["subject"] else ""
        typer.echo(f"  #{i}: box={r['box']} score={r['score']} quality={r['quality']}{mark}")
    if ambiguous:
        typer.echo("  ambiguous: another face of similar size near the centre")
