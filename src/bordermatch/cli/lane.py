"""``bordermatch lane run | evaluate | simulate | calibrate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from bordermatch.cli._common import fail
from bordermatch.cli.progress import Quiet, Verbose, output, progress
from bordermatch.errors import BordermatchError

app = typer.Typer(no_args_is_help=True, help="Vehicle lanes: run, evaluate, simulate.")


def _config(*args: Any, **kwargs: Any):
    from bordermatch.lane.runner import lane_config

    return lane_config(*args, **kwargs)


@app.command("run")
def run(
    gallery: Path = typer.Option(..., help="Gallery template file from `gallery build`."),
    events: Path = typer.Option(..., help="Lane events directory."),
    out: Path = typer.Option(..., help="Results JSON Lines file to write."),
    thresholds: Path | None = typer.Option(None, help="Open-set thresholds (default: bundled)."),
    detector: str = typer.Option("yunet", help="Face detector (registry name)."),
    detector_score: float | None = typer.Option(
        None, help="Detector score threshold (default: the detector's own operating point)."),
    fusion: str | None = typer.Option(None, help="template | best_shot | max_score"),
    roi_upscale: float | None = typer.Option(None, help="Upscale of the windshield ROI pass."),
    link_threshold: float | None = typer.Option(None, help="Cosine to join camera tracklets."),
    cameras: str | None = typer.Option(None, help="Baselines: only these camera ids (a,b)."),
    last_frames: int | None = typer.Option(None, help="Baselines: only the last N frames."),
    shots: int | None = typer.Option(None, help="Shots embedded per camera tracklet."),
    layout: Path | None = typer.Option(
        None, help="This lane's seat zones (JSON, docs/lane.md; default: the reference)."),
    document_fmr: float | None = typer.Option(
        None, help="1:1 FMR at which documents read in the lane are verified (default 1e-3)."),
    ignore_documents: bool = typer.Option(
        False, "--ignore-documents", help="Baselines: decide every occupant by 1:N search."),
    document_thresholds: Path | None = typer.Option(
        None, help="Document-stage 1:1 operating point from `lane calibrate --document-out` "
        "(default: the bundled calibration at --document-fmr)."),
    document_norm: str | None = typer.Option(
        None, help="Document-stage scores: snorm (S-normalised, the default), tnorm "
        "(T-normalised by the track's own gallery scores) or none (raw)."),
    verbose: bool = Verbose,
    quiet: bool = Quiet,
) -> None:
    """Process every event: one results line each, never aborting on a bad event."""
    from bordermatch.lane.events import event_folders
    from bordermatch.lane.runner import build_pipeline, run_events

    shown = output(verbose, quiet)
    errors = skipped = 0
    try:
        config = _config(fusion, roi_upscale, link_threshold, cameras, last_frames, shots,
                         layout, document_fmr, ignore_documents, document_norm)
        pipeline = build_pipeline(gallery, thresholds, config, detector, detector_score,
                                  document_thresholds=document_thresholds)
        with progress("vehicles", "vehicle", shown, len(event_folders(events))) as bar:
            def show(result) -> None:
                nonlocal errors, skipped
                errors += result.error is not None
                skipped += len(result.skipped_frames)
                if result.error is not None:
                    bar.note(f"  {result.event_id}: {result.error}: {result.error_detail}")
                for camera, name, why in result.skipped_frames:
                    bar.note(f"  {result.event_id}: skipped frame {camera}/{name}: {why}")
                bar.advance()

            n = run_events(pipeline, events, out, show)
    except BordermatchError as exc:
        fail(exc)
    typer.echo(f"{n} events in {bar.elapsed_s:.1f} s -> {out} ({errors} with an error "
               f"reason, {skipped} frames skipped)")


@app.command("evaluate")
def evaluate(
    events: Path = typer.Option(..., help="Lane events directory with truth.json files."),
    results: Path = typer.Option(..., help="Results JSON Lines from `lane run`."),
    out: Path | None = typer.Option(None, help="Directory for report.md and the PNG plots."),
    gallery: Path | None = typer.Option(
        None, help="Also measure 1:1 FNMR of the tracks against their own reference photos "
        "(by row, daylight, camera): observes every event again with this gallery."),
    scores: Path | None = typer.Option(
        None, help="Instead of --gallery: the 1:1 FNMR table from a scores file of these "
        "events (`batch lane-run --scores`), at the document point the lane ran with."),
    document_fmr: float | None = typer.Option(
        None, help="FMR of the 1:1 threshold for the FNMR table (default: the lane's, 1e-3)."),
    document_thresholds: Path | None = typer.Option(
        None, help="Document-stage operating point from `lane calibrate` (default: bundled)."),
    document_norm: str | None = typer.Option(
        None, help="Document-stage scores: snorm (S-normalised, the default), tnorm "
        "(T-normalised by the track's own gallery scores) or none (raw)."),
    thresholds: Path | None = typer.Option(
        None, help="The open-set thresholds `lane run` used, drawn on the score plot "
        "(default with --gallery: the bundled ones; without either, the lowest scores "
        "decided match and review)."),
) -> None:
    """Vehicle validation, capture, per-row/seat match rates, FPIR/FNIR, latency."""
    from bordermatch.errors import ConfigError
    from bordermatch.lane.evaluate import evaluate as run_eval
    from bordermatch.match.decide import OperatingPoint

    lines: dict[str, float] | None = None
    try:
        metrics, outcomes, series = run_eval(events, results)
        if scores is not None:
            given = [k for k, v in {"--gallery": gallery, "--document-fmr": document_fmr,
                                    "--document-thresholds": document_thresholds,
                                    "--document-norm": document_norm,
                                    "--thresholds": thresholds}.items() if v is not None]
            if given:
                raise ConfigError(f"--scores holds the points its lane ran with; it replaces "
                                  f"{', '.join(given)}")
            metrics["verification_1to1"], lines = _table_of_scores(scores, events)
        elif thresholds is not None and gallery is None:
            point = OperatingPoint.load(thresholds)
            lines = {f"match ({point.rate} {point.target:g})": point.match}
            if point.review is not None:
                lines["review"] = point.review
        if gallery is not None:
            from bordermatch.gallery.file import load as load_gallery
            from bordermatch.lane.runner import build_pipeline, same_face_partners
            from bordermatch.lane.verification import collect_verification, fnmr_table

            config = _config(None, None, None, document_fmr=document_fmr,
                             document_norm=document_norm)
            pipeline = build_pipeline(gallery, thresholds, config,
                                      document_thresholds=document_thresholds)
            assert pipeline.document_point is not None  # document_fmr is never None here
            data = collect_verification(pipeline, events,
                                        same_face_partners(load_gallery(gallery).report))
            dp = pipeline.document_point
            metrics["verification_1to1"] = fnmr_table(data, dp.match, dp.target,
                                                      dp.normalisation)
            sp = pipeline.point
            lines = {f"match ({sp.rate} {sp.target:g})": sp.match}
            if dp.normalisation is None:  # a T-norm threshold is per track: no one line
                lines[f"document 1:1 (FMR {dp.target:g})"] = dp.match
            if sp.review is not None:
                lines["review"] = sp.review
    except BordermatchError as exc:
        fail(exc)
    typer.echo(json.dumps(metrics, indent=1))
    if out is not None:
        from bordermatch.lane.report import write_report

        path = write_report(out, metrics, outcomes, series, thresholds=lines)
        (Path(out) / "metrics.json").write_text(json.dumps(metrics, indent=1))
        typer.echo(f"report: {path}")


def _table_of_scores(path: Path, events: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """The 1:1 FNMR table of a scores file of ``events`` at the document point its lane
    ran with, and the thresholds to draw."""
    from bordermatch.errors import ConfigError
    from bordermatch.lane.events import event_folders
    from bordermatch.lane.runner import PLACEHOLDER
    from bordermatch.lane.scores import LaneScores
    from bordermatch.lane.verification import fnmr_table
    from bordermatch.match.decide import OperatingPoint

    data = LaneScores.read(path)
    if sorted(data.meta["event_ids"]) != sorted(f.name for f in event_folders(events)):
        raise ConfigError(f"{path} holds the scores of other events than {events}")
    norm = data.one_to_one(str(path))
    if data.meta.get("document_point") is None:
        raise ConfigError(f"{path}: its lane ran without a document point (documents "
                          "ignored): no 1:1 table")
    dp = OperatingPoint(**data.meta["document_point"])
    sp = OperatingPoint(**data.meta["search_point"])
    if dp.normalisation != norm:
        raise ConfigError(f"{path}: 1:1 scores on {norm or 'raw'} scores, the document "
                          f"point on {dp.normalisation or 'raw'}")
    lines: dict[str, float] = {}
    if sp.provenance != PLACEHOLDER:
        lines[f"match ({sp.rate} {sp.target:g})"] = sp.match
        if sp.review is not None:
            lines["review"] = sp.review
    if dp.normalisation is None:  # a normalised threshold is per track: no one line
        lines[f"document 1:1 (FMR {dp.target:g})"] = dp.match
    return fnmr_table(data.verification, dp.match, dp.target, dp.normalisation), lines


@app.command("simulate")
def simulate(
    faces: Path = typer.Option(..., help="Face directory like LFW: <Name>/<Name>_NNNN.jpg"),
    out: Path = typer.Option(..., help="Output directory (gallery/ and events/ are created)."),
    vehicles: int = typer.Option(..., min=1, help="Number of vehicles."),
    seed: int = typer.Option(..., help="Random seed (the same seed gives the same lane)."),
    difficulty: str = typer.Option("default", help="easy | default | hard"),
    distractors: int | None = typer.Option(None, help="Gallery padding (default per difficulty)."),
    read_rate: float | None = typer.Option(
        None, min=0.0, max=1.0, help="P(an enrolled occupant's document is read; default 0.85)."),
    no_documents: bool = typer.Option(
        False, "--no-documents", help="No document reads at all (not even stray or unknown)."),
    second_references: float | None = typer.Option(
        None, min=0.0, max=1.0,
        help="P(a traveller holds a second document with its own photo; default 0.3)."),
    quiet: bool = Quiet,
) -> None:
    """Render a gallery and lane events with truth.json (parameters: docs/lane.md)."""
    from dataclasses import replace

    from bordermatch.lane.scenario import params_for
    from bordermatch.lane.simulate import simulate as run_sim

    try:
        params = params_for(difficulty)
        overrides: dict[str, Any] = {
            k: v for k, v in (("distractors", distractors),
                              ("document_read_prob", read_rate),
                              ("second_reference_prob", second_references))
            if v is not None}
        if no_documents:
            overrides.update(document_read_prob=0.0, unenrolled_document_prob=0.0,
                             stray_read_prob=0.0)
        params = replace(params, **overrides)
        with progress("rendering", "vehicle", output(quiet=quiet), vehicles) as bar:
            summary = run_sim(faces, out, vehicles, seed, params,
                              progress=lambda done: bar.done_of(done))
    except BordermatchError as exc:
        fail(exc)
    typer.echo(f"{summary['vehicles']} vehicles, {summary['occupants']} occupants, "
               f"{summary['documents_read']} documents read, gallery of "
               f"{summary['travelers']} travellers ({summary['gallery']} photos) in "
               f"{bar.elapsed_s:.1f} s -> {out}")


@app.command("calibrate")
def calibrate(
    gallery: list[Path] | None = typer.Option(
        None, help="Gallery template file (repeat: one per --events)."),
    events: list[Path] | None = typer.Option(
        None, help="Truth-labelled events simulated for the gallery at the same position "
        "(repeat to pool several development sets)."),
    scores: list[Path] | None = typer.Option(
        None, help="Instead of --gallery/--events: scores files from `batch lane-run "
        "--scores` (repeat to pool sets), observed across processes."),
    out: Path = typer.Option(..., help="Thresholds JSON to write."),
    target_fpir: float = typer.Option(1e-3, help="FPIR at the match threshold."),
    review_fpir: float = typer.Option(1e-2, help="FPIR at the review threshold."),
    fusion: str = typer.Option("max_score", help="Fusion the thresholds are for."),
    detector: str | None = typer.Option(None, help="Face detector (default: yunet)."),
    detector_score: float | None = typer.Option(
        None, help="Detector score threshold (default: the detector's own operating point)."),
    roi_upscale: float | None = typer.Option(None),
    link_threshold: float | None = typer.Option(None),
    shots: int | None = typer.Option(None, help="Shots embedded per camera tracklet."),
    limit: int | None = typer.Option(None, help="Use only the first N events of each set."),
    results_out: Path | None = typer.Option(
        None, help="Also write results lines for these events, decided with the new thresholds "
        "(one set only)."),
    document_out: Path | None = typer.Option(
        None, help="Also fit the document stage's 1:1 threshold on the lane tracks and write "
        "it here (use with `lane run --document-thresholds`)."),
    document_fmr: float = typer.Option(
        1e-3, help="FMR per 1:1 comparison for --document-out."),
    document_norm: str | None = typer.Option(
        None, help="Document-stage scores: snorm (S-normalised, the default), tnorm "
        "(T-normalised by the track's own gallery scores) or none (raw); with --scores, "
        "the scale they were observed on (the default)."),
    quiet: bool = Quiet,
) -> None:
    """Fit open-set thresholds from a target FPIR; compare the fusion modes."""
    from bordermatch.errors import ConfigError
    from bordermatch.gallery.file import load as load_gallery
    from bordermatch.lane.events import event_folders
    from bordermatch.lane.runner import CalibrationSet, build_pipeline, same_face_partners
    from bordermatch.lane.runner import calibrate as run_cal

    gallery, events = gallery or [], events or []
    try:
        if scores:
            observing = {"--gallery": gallery, "--events": events, "--limit": limit,
                         "--results-out": results_out, "--detector": detector,
                         "--detector-score": detector_score, "--roi-upscale": roi_upscale,
                         "--link-threshold": link_threshold, "--shots": shots}
            given = [k for k, v in observing.items() if v not in (None, [])]
            if given:
                raise ConfigError(f"--scores replaces {', '.join(given)}: its events were "
                                  "observed already, with the options of their `batch "
                                  "lane-run --scores` job")
            th, comparison, doc = _fit_scores(scores, target_fpir, review_fpir, fusion,
                                              document_out, document_fmr, document_norm)
            _write_calibration(th, comparison, doc, out, document_out, document_fmr)
            typer.echo(f"{len(scores)} scores files; thresholds -> {out}: "
                       f"match {th.match:.4f}, review {th.review:.4f}")
            return
        if len(gallery) != len(events) or not gallery:
            raise ConfigError(f"{len(gallery)} --gallery for {len(events)} --events: "
                              "give one gallery per events directory (or --scores)")
        sets = []
        for g, e in zip(gallery, events, strict=True):
            templates = load_gallery(g)
            config = _config(fusion, roi_upscale, link_threshold, shots=shots,
                             document_norm=document_norm)
            pipeline = build_pipeline(g, None, config, detector or "yunet", detector_score,
                                      observing=True)
            sets.append(CalibrationSet(pipeline, e, same_face_partners(templates.report)))
        from bordermatch.lane.operating_points import calibration_norm, document_operating_point
        from bordermatch.lane.verification import VerificationData, fnmr_table

        verification = VerificationData([], []) if document_out is not None else None
        source = ", ".join(map(str, events))
        total = sum(len(event_folders(e)[:limit]) for e in events)
        with progress("observing", "vehicle", output(quiet=quiet), total) as bar:
            th, comparison = run_cal(sets, target_fpir=target_fpir, review_fpir=review_fpir,
                                     fusion=fusion, source=source,
                                     progress=lambda _n: bar.advance(), limit=limit,
                                     results_out=results_out, verification=verification)
        doc = None
        if verification is not None:
            doc = document_operating_point(verification, th.model, document_fmr, source,
                                           calibration_norm(sets[0].pipeline))
            comparison["document_stage"] = fnmr_table(verification, doc.match, document_fmr,
                                                      doc.normalisation)
    except BordermatchError as exc:
        fail(exc)
    _write_calibration(th, comparison, doc, out, document_out, document_fmr)
    typer.echo(f"{bar.count} vehicles in {bar.elapsed_s:.1f} s; thresholds -> {out}: "
               f"match {th.match:.4f}, review {th.review:.4f}")


def _fit_scores(paths: list[Path], target_fpir: float, review_fpir: float, fusion: str,
                document_out: Path | None, document_fmr: float, document_norm: str | None):
    """``lane calibrate``'s fits on pooled scores files: the same arithmetic as on the
    events observed in this process."""
    from bordermatch.errors import ConfigError
    from bordermatch.lane.operating_points import document_operating_point
    from bordermatch.lane.runner import fit_open_set
    from bordermatch.lane.scores import LaneScores, pool
    from bordermatch.lane.verification import fnmr_table
    from bordermatch.match.normalise import check_normalisation

    source = ", ".join(map(str, paths))
    pooled = pool([LaneScores.read(p) for p in paths], source)
    th, comparison = fit_open_set(pooled.searches, str(pooled.meta["model"]),
                                  target_fpir=target_fpir, review_fpir=review_fpir,
                                  fusion=fusion, source=source)
    doc = None
    if document_out is not None:
        norm = pooled.one_to_one(source)  # the scale the batch job observed on
        wanted = None if document_norm in (None, "none") else document_norm
        check_normalisation(wanted)
        if document_norm is not None and wanted != norm:
            raise ConfigError(f"the scores' 1:1 comparisons are on {norm or 'raw'} scores, "
                              f"not {document_norm}: observe again with that "
                              "--document-norm")
        doc = document_operating_point(pooled.verification, th.model, document_fmr, source,
                                       norm)
        comparison["document_stage"] = fnmr_table(pooled.verification, doc.match,
                                                  document_fmr, doc.normalisation)
    return th, comparison, doc


def _write_calibration(th: Any, comparison: dict[str, Any], doc: Any, out: Path,
                       document_out: Path | None, document_fmr: float) -> None:
    if doc is not None and document_out is not None:
        doc.save(document_out)
        scale = "raw" if doc.normalisation is None else doc.normalisation
        typer.echo(f"document threshold -> {document_out}: {doc.match:.4f} ({scale} scores) "
                   f"at FMR {document_fmr:g} ({doc.samples} non-mated comparisons)")
    th.save(out)
    (Path(out).with_suffix(".fusion.json")).write_text(json.dumps(comparison, indent=1))
    typer.echo(json.dumps(comparison, indent=1))
