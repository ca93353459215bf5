from __future__ import annotations

import subprocess
import sys

import bordermatch


def test_all_is_exact():
    assert sorted(bordermatch.__all__) == [
        "BordermatchError", "Candidate", "Decision", "Face", "FaceEngine", "FaceSample",
        "LaneResult", "Occupant", "OperatingPoint", "Outcome", "Quality", "Reason", "Settings",
        "Template", "Verification", "decode_image", "load_image",
    ]
    for name in bordermatch.__all__:
        assert hasattr(bordermatch, name)


def test_import_has_no_heavy_side_effects():
    code = ("import sys, bordermatch, bordermatch.cli; "
            "heavy = [m for m in ('onnxruntime', 'dlib', 'faiss', 'sqlalchemy', 'fastapi') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
