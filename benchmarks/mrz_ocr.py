"""MRZ OCR accuracy on rendered, degraded data pages (TD3, TD1, TD2 in turn).

Each page is rendered in OCR-B (fonts-ocr-b), degraded with a random rotation, perspective,
blur, noise, glare and JPEG quality (``synth.Degradation.random``), encoded as JPEG and read
through ``io.images.decode_image`` and ``documents.ocr.read_mrz``: the path of
``bordermatch document ocr``. Figures:

* line accuracy: MRZ lines read exactly right, after correction (before correction too);
* document accuracy: documents whose every line is right;
* valid but wrong: documents whose MRZ passed every check yet differs from the truth
  (the dangerous case, which the check digits exist to make rare).

    python benchmarks/mrz_ocr.py --pages 210 --engine ocrb
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from bordermatch.documents import synth
from bordermatch.documents.mrz import DocumentType, parse
from bordermatch.documents.ocr import make_recognizer, read_mrz
from bordermatch.errors import BordermatchError, DocumentError
from bordermatch.io.images import decode_image

TODAY = date(2026, 12, 1)
KINDS = (DocumentType.TD3, DocumentType.TD1, DocumentType.TD2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=210)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--engine", default="auto",
                    choices=("auto", "ocrb", "tesseract", "passporteye"),
                    help="passporteye (for comparison only; pip install passporteye) replaces "
                         "our locate and recognise steps, and its text gets our correction")
    ap.add_argument("--severity", type=float, default=1.0, help="scales every degradation")
    ap.add_argument("--render-font", type=Path, default=None,
                    help="font to render pages with (default: the OCR-B the reader uses); "
                         "e.g. /usr/share/fonts/opentype/ocr-b/OCRBS.otf, a different cut")
    args = ap.parse_args()
    font = args.render_font or synth.ocr_b_font_path()
    if font is None:
        raise SystemExit("fonts-ocr-b is not installed (scripts/setup.sh installs it)")
    if args.engine == "passporteye":
        engine, read = "passporteye", _passporteye_reader()
    else:
        engine, recognizer = make_recognizer(args.engine)

        def read(jpeg: bytes):
            return read_mrz(decode_image(jpeg), recognizer, today=TODAY)
    rng = np.random.default_rng(args.seed)
    lines_ok = raw_ok = lines_total = docs_ok = valid_wrong = silent_wrong = failures = 0
    flagged_right = 0
    per_kind: dict[DocumentType, list[int]] = {k: [0, 0] for k in KINDS}
    wrong_fields: dict[str, int] = {}
    seconds = []
    for i in range(args.pages):
        kind = KINDS[i % len(KINDS)]
        truth = synth.random_mrz(rng, kind, TODAY)
        page = synth.render_page(truth, font, degradation=synth.Degradation.random(
            rng, args.severity), rng=rng)
        _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(page, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 92])
        t0 = time.perf_counter()
        try:
            result = read(jpeg.tobytes())
            got, raw, valid = result.lines, result.lines_read, result.mrz.valid
        except BordermatchError:
            got, raw, valid = (), (), False
            failures += 1
        seconds.append(time.perf_counter() - t0)
        lines_total += len(truth)
        lines_ok += sum(a == b for a, b in zip(got, truth, strict=False))
        raw_ok += sum(a == b for a, b in zip(raw, truth, strict=False))
        right = tuple(got) == truth
        docs_ok += right
        valid_wrong += valid and not right
        silent_wrong += valid and not right and not (got and result.uncertain)
        flagged_right += right and bool(result.uncertain)
        if valid and not right:
            truth_fields = parse(truth, today=TODAY).fields.to_dict()
            for key, value in result.mrz.fields.to_dict().items():
                if value != truth_fields[key]:
                    wrong_fields[key] = wrong_fields.get(key, 0) + 1
        per_kind[kind][0] += right
        per_kind[kind][1] += 1
    n = args.pages
    print(f"engine {engine}, {n} pages, seed {args.seed}, severity {args.severity}, "
          f"rendered in {font.name}")
    print(f"line accuracy      {lines_ok / lines_total:.1%} ({lines_ok}/{lines_total}); "
          f"before correction {raw_ok / lines_total:.1%}")
    print(f"document accuracy  {docs_ok / n:.1%} ({docs_ok}/{n}); "
          + ", ".join(f"{k.value} {a}/{b}" for k, (a, b) in per_kind.items()))
    print(f"valid but wrong    {valid_wrong} of {n} (fields: "
          f"{', '.join(f'{k} {v}' for k, v in sorted(wrong_fields.items())) or 'none'}); "
          f"no MRZ found {failures}")
    print(f"  of which with no character flagged uncertain: {silent_wrong}; right documents "
          f"with a character flagged: {flagged_right} of {docs_ok}")
    print(f"time per page      median {np.median(seconds) * 1000:.0f} ms, "
          f"p95 {np.percentile(seconds, 95) * 1000:.0f} ms")


def _passporteye_reader():
    import io

    from passporteye import read_mrz as pe_read_mrz

    from bordermatch.documents.ocr import OcrResult, correct, fit_lines

    def read(jpeg: bytes) -> OcrResult:
        found = pe_read_mrz(io.BytesIO(jpeg))
        if found is None:
            raise DocumentError("passporteye found no MRZ")
        lines_read = fit_lines(found.aux["raw_text"])
        fixed, fixes = correct(lines_read, TODAY)
        return OcrResult(lines_read, fixed, fixes, parse(fixed, today=TODAY), ())

    return read


if __name__ == "__main__":
    main()
