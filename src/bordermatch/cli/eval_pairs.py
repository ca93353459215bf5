"""``bordermatch eval lfw-pairs`` and ``bordermatch eval score-pairs``: LFW through ``verify``.

The figure of record for the product comes from three commands a user can run::

    bordermatch eval lfw-pairs --lfw-dir LFW --out pairs.tsv
    bordermatch verify --pairs pairs.tsv --json > verify.jsonl
    bordermatch eval score-pairs --pairs LFW/pairs.txt --results verify.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bordermatch.cli._common import fail


def lfw_pairs(
    lfw_dir: Path = typer.Option(..., "--lfw-dir", help="Folder with pairs.txt and the images."),
    out: Path = typer.Option(..., "--out", help="TSV to write: pathA<TAB>pathB per pair."),
) -> None:
    """Write LFW View-2 pairs.txt as a `verify --pairs` file of absolute image paths."""
    from bordermatch.errors import BordermatchError, ManifestError
    from bordermatch.eval.lfw import image_root, read_pairs

    try:
        pairs = read_pairs(lfw_dir / "pairs.txt")
        root = image_root(lfw_dir).resolve()
        missing = [p for pair in pairs for p in (pair.a, pair.b) if not (root / p).is_file()]
        if missing:
            raise ManifestError(f"{len(missing)} images of pairs.txt are not under {root}, "
                                f"e.g. {missing[0]}")
        out.write_text("".join(f"{root / p.a}\t{root / p.b}\n" for p in pairs))
    except BordermatchError as exc:
        fail(exc)
    # An unwritable --out is an OSError: the root group's one line and exit 4, as everywhere.
    typer.echo(f"wrote {len(pairs)} pairs to {out}")


def score_pairs(
    pairs: Path = typer.Option(..., "--pairs", help="LFW View-2 pairs.txt (folds and labels)."),
    results: Path = typer.Option(..., "--results", help="Output of verify --pairs --json."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """10-fold accuracy of verify's scores (threshold learnt on 9 folds, tested on the 10th)."""
    from bordermatch.errors import BordermatchError
    from bordermatch.eval.lfw import read_pairs
    from bordermatch.eval.verify_score import read_results, score_results

    try:
        score = score_results(read_pairs(pairs), read_results(results))
    except BordermatchError as exc:
        fail(exc, as_json)
    summary = {
        "accuracy_mean": score.accuracy_mean, "accuracy_std": score.accuracy_std,
        "fold_accuracy": score.fold_accuracy, "fold_threshold": score.fold_threshold,
        "pairs": score.n_pairs, "error_pairs": score.errors, "images": score.images,
        "ambiguous_images": score.ambiguous_images, "retried_images": score.retried_images,
        "failed_images": score.failed_images,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"accuracy {100 * score.accuracy_mean:.2f}% ± {100 * score.accuracy_std:.2f} "
               f"over {len(score.fold_accuracy)} folds ({score.n_pairs} pairs)")
    typer.echo("folds: " + " ".join(f"{100 * a:.2f}" for a in score.fold_accuracy))
    typer.echo(f"images {score.images}: ambiguous {score.ambiguous_images}, face only at the "
               f"retry score {score.retried_images}, failed {score.failed_images or 0}; "
               f"error pairs {score.errors or 0} (scored as non-matches)")
