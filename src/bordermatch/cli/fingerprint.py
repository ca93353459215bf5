"""``bordermatch fingerprint ...``: quality, compare, watchlist build, search, eval."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import typer

from bordermatch.cli._common import emit_json, fail
from bordermatch.cli.progress import Quiet, Verbose, output, progress
from bordermatch.errors import BordermatchError, InputError, ManifestError

app = typer.Typer(no_args_is_help=True, help="Fingerprints: NFIQ 2, Bozorth3, watchlist.")
watchlist_app = typer.Typer(no_args_is_help=True, help="Fingerprint watchlists.")
app.add_typer(watchlist_app, name="watchlist")

_PPI = typer.Option(500.0, "--ppi", help="Resolution when the file states none (ppi).")
_JSON = typer.Option(False, "--json", help="Print JSON.")
_CAL = typer.Option(None, "--calibration", help="Calibration JSON (default: shipped one).")


def _probe(path: Path, ppi: float, position: int = 0, min_score: int | None = None):
    from bordermatch.fingerprint.capture import load_fingerprint
    from bordermatch.fingerprint.minutiae import extract_template
    from bordermatch.fingerprint.quality import Nfiq2Assessor, needs_recapture

    image = load_fingerprint(path, ppi)
    quality = Nfiq2Assessor().assess(image)
    if min_score is not None and needs_recapture(quality, min_score):
        return image, quality, None
    return image, quality, extract_template(image, position, quality.score)


@app.command("quality")
def quality_cmd(image: Path, ppi: float = _PPI, as_json: bool = _JSON,
                min_score: int = typer.Option(30, help="NFIQ 2 below this asks for a recapture.")
                ) -> None:
    """NFIQ 2 (ISO/IEC 29794-4) score of IMAGE and whether to recapture."""
    from bordermatch.fingerprint.quality import needs_recapture

    try:
        img, q, _ = _probe(image, ppi)
    except BordermatchError as exc:
        fail(exc, as_json)
    out = {"image": str(image), "nfiq2": q.score, "recapture": needs_recapture(q, min_score),
           "min_score": min_score, "algorithm": q.algorithm, "ppi": img.ppi,
           "ppi_source": img.ppi_source, "format": img.format,
           "actionable": {"uniform_image": q.uniform_image, "mean_grey": q.mean_grey,
                          "minutiae_count": q.minutiae_count,
                          "foreground_pixels": q.foreground_pixels}}
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"{image}: NFIQ 2 {q.score}" + (" -> recapture" if out["recapture"] else ""))


@app.command("compare")
def compare_cmd(a: Path, b: Path, ppi: float = _PPI, as_json: bool = _JSON,
                fmr: float = typer.Option(1e-3, help="Target FMR of the decision."),
                calibration: Path | None = _CAL) -> None:
    """Bozorth3 score of A against B and the decision at the calibrated FMR."""
    from bordermatch.fingerprint.capture import load_fingerprint
    from bordermatch.fingerprint.match import Bozorth3, compare_decision, load_calibration
    from bordermatch.fingerprint.minutiae import extract_template

    try:
        cal = load_calibration(calibration)
        ta, tb = (extract_template(load_fingerprint(p, ppi)) for p in (a, b))
        score = Bozorth3().compare_templates(ta, tb)
        decision = compare_decision(score, cal, fmr)
    except BordermatchError as exc:
        fail(exc, as_json)
    out = {"a": str(a), "b": str(b), "score": score, "threshold": decision.threshold,
           "target_fmr": fmr, "decision": decision.outcome.value, "algorithm": cal.algorithm,
           "minutiae": [len(ta), len(tb)]}
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"score {score:g} (threshold {decision.threshold:g} at FMR {fmr:g}): "
                   f"{decision.outcome.value}")


def _watchlist_images(folder: Path) -> list[tuple[str, int, Path]]:
    """DIR/<subject_id>/<finger position>.<ext>; the stem is a code 1-10 or a name such as
    right_index."""
    from bordermatch.fingerprint.minutiae import finger_position

    if not folder.is_dir():
        raise ManifestError(f"{folder}: not a directory")
    rows = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for img in sorted(sub.iterdir()):
            if img.suffix.lower() in (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".wsq"):
                rows.append((sub.name, finger_position(img.stem), img))
    if not rows:
        raise ManifestError(f"{folder}: no <subject>/<finger position>.<ext> images")
    return rows


@watchlist_app.command("build")
def watchlist_build(folder: Path, out: Path = typer.Option(..., "--out"), ppi: float = _PPI,
                    as_json: bool = _JSON, verbose: bool = Verbose, quiet: bool = Quiet,
                    ) -> None:
    """Enrol DIR/<subject_id>/<position>.<ext> into the watchlist file W (the rejected
    images are in the --json report, and printed with -v)."""
    from bordermatch.fingerprint.capture import load_fingerprint
    from bordermatch.fingerprint.minutiae import extract_template
    from bordermatch.fingerprint.quality import Nfiq2Assessor
    from bordermatch.fingerprint.watchlist import Watchlist

    rejected: list[dict[str, str]] = []
    shown = output(verbose, quiet)
    try:
        grouped: dict[str, dict[int, object]] = {}
        found = _watchlist_images(folder)
        with progress("enrolling", "finger", shown, len(found)) as bar:
            for sid, pos, img in found:
                try:
                    image = load_fingerprint(img, ppi)
                    q = Nfiq2Assessor().assess(image)
                    grouped.setdefault(sid, {})[pos] = extract_template(image, pos, q.score)
                except InputError as exc:
                    rejected.append({"image": str(img), "error": exc.code, "detail": str(exc)})
                    bar.note(f"  rejected {img}: {exc.code} ({exc})")
                bar.advance()
        wl = Watchlist()
        for sid, fingers in grouped.items():
            wl.enrol(sid, fingers)  # type: ignore[arg-type]
        out.write_bytes(wl.to_bytes())
    except BordermatchError as exc:
        fail(exc, as_json)
    report = {"watchlist": str(out), "subjects": len(wl), "fingers": wl.n_fingers,
              "rejected": rejected}
    if as_json:
        emit_json(report)
    else:
        typer.echo(f"enrolled {len(wl)} subjects, {wl.n_fingers} fingers in "
                   f"{bar.elapsed_s:.1f} s -> {out}; {len(rejected)} images rejected"
                   + (" (-v or --json lists them)" if rejected and not shown.verbose else ""))


def _split_probe(arg: str) -> tuple[int, Path]:
    from bordermatch.fingerprint.minutiae import finger_position

    head, sep, tail = arg.partition(":")
    if sep:
        try:
            return finger_position(head), Path(tail)
        except InputError:
            pass
    return 0, Path(arg)


@app.command("search")
def search_cmd(images: list[str] = typer.Argument(..., help="IMG or POSITION:IMG (1-10 or "
                                                  "a name such as right_index)."),
               watchlist: Path = typer.Option(..., "--watchlist"), ppi: float = _PPI,
               fpir: float = typer.Option(1e-3, help="Target FPIR of the candidate list."),
               threshold: float | None = typer.Option(None, help="Fused-score threshold "
                                                      "(overrides --fpir)."),
               min_score: int = typer.Option(30, help="NFIQ 2 below this asks for recapture."),
               shortlist: int = typer.Option(25, help="Fingers the pre-filter passes on."),
               calibration: Path | None = _CAL, as_json: bool = _JSON) -> None:
    """Search one or more probe fingers against watchlist W: hit, no_hit or recapture."""
    from bordermatch.fingerprint.match import load_calibration
    from bordermatch.fingerprint.watchlist import Watchlist, threshold_for_fpir

    t0 = time.perf_counter()
    try:
        wl = Watchlist.from_bytes(watchlist.read_bytes())
        probes, qualities = [], []
        for arg in images:
            pos, path = _split_probe(arg)
            _, q, t = _probe(path, ppi, pos, min_score)
            qualities.append({"image": str(path), "position": pos, "nfiq2": q.score})
            if t is not None:
                probes.append(t)
        if len(probes) < len(images):
            out = {"outcome": "recapture", "min_score": min_score, "probes": qualities}
            emit_json(out) if as_json else typer.echo(f"recapture: {qualities}")
            return
        if threshold is None:
            cal = load_calibration(calibration)
            trials = wl.trials([t.position for t in probes])
            threshold = threshold_for_fpir(cal.impostor_scores(), len(probes), trials, fpir)
        result = wl.search(probes, threshold, shortlist=shortlist)
    except (BordermatchError, OSError) as exc:
        if isinstance(exc, OSError):
            exc = InputError(f"{watchlist}: {exc}")
        fail(exc, as_json)
    out = {"outcome": "hit" if result.candidates else "no_hit", "threshold": threshold,
           "target_fpir": fpir, "probes": qualities,
           "candidates": [{"subject_id": c.subject_id, "score": c.score, "rank": c.rank,
                           "fingers": [{"probe": f.probe_index, "position": f.position,
                                        "score": f.score} for f in c.fingers]}
                          for c in result.candidates],
           "best_score": result.best.score if result.best else None,
           "comparisons": result.comparisons, "ms": round(1e3 * (time.perf_counter() - t0))}
    if as_json:
        emit_json(out)
    else:
        typer.echo(f"{out['outcome']} (threshold {threshold:g})")
        for c in result.candidates:
            typer.echo(f"  {c.rank}. {c.subject_id}  score {c.score:g}")


@app.command("eval")
def eval_cmd(folder: Path, ppi: float = _PPI, as_json: bool = _JSON,
             max_fingers: int | None = typer.Option(None, help="Use the first N fingers."),
             max_impressions: int | None = typer.Option(None, help="Impressions 1..N only."),
             calibration_out: Path | None = typer.Option(
                 None, help="Also write a calibration JSON from these scores."),
             quiet: bool = Quiet) -> None:
    """Verification accuracy on FVC-style <finger>_<impression> images (all pairs)."""
    from bordermatch.fingerprint import _nbis
    from bordermatch.fingerprint.evaluate import compare_all, fvc_images, summarise
    from bordermatch.fingerprint.match import Bozorth3, calibrate

    try:
        images = fvc_images(folder, max_fingers, max_impressions)
        with progress("extract+compare", "op", output(quiet=quiet)) as bar:
            scores = compare_all(images, Bozorth3(), ppi, progress=bar.done_of)
        summary = summarise(scores)
        if calibration_out is not None:
            digest = hashlib.sha256()
            for _, _, p in images:
                digest.update(p.name.encode() + b"\0" + hashlib.sha256(p.read_bytes())
                              .hexdigest().encode() + b"\n")
            cal = calibrate(scores.genuine.tolist(), scores.impostor.tolist(), [1e-2, 1e-3],
                            "bozorth3", {
                                "data": f"{folder.name}: {len(images)} images, "
                                        f"{len({f for f, _, _ in images})} fingers",
                                "data_sha256": digest.hexdigest(),
                                "protocol": "all pairs; same finger genuine, else impostor",
                                "software": f"{_nbis.NBIS_PACKAGE} {_nbis.NBIS_VERSION} "
                                            f"(MINDTCT + Bozorth3), bordermatch ISO records",
                                "command": f"bordermatch fingerprint eval {folder.name} "
                                           f"--calibration-out {calibration_out.name}",
                                "eer": summary["eer"],
                                "note": "calibrated and evaluated on the same small, easy "
                                        "set: re-calibrate on field captures",
                            })
            calibration_out.write_text(cal.to_json())
    except BordermatchError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(summary)
    else:
        for k, v in summary.items():
            typer.echo(f"{k}: {v}")
