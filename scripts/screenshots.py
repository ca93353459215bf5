"""Regenerate docs/screenshots/ from the browser tests.

Runs tests/web/test_browser.py (SQLite only) in headless Debian Chromium with
BM_SCREENSHOT_DIR set, so the pictures show exactly what the tests checked, then shrinks
each PNG to a 256-colour palette so the repository stays small.

    PYTHONPATH=src python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("login.png", "review_queue.png", "review_item_gate.png", "review_item_vehicle.png")


def shrink(src: Path, dst: Path, width: int = 1100) -> int:
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
    return dst.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {"BM_SCREENSHOT_DIR": tmp}
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-k", "sqlite",
                              "tests/web/test_browser.py"], cwd=ROOT, env=env)
        if run.returncode != 0:
            print("the browser tests failed; no screenshots written", file=sys.stderr)
            return run.returncode
        missing = [p for p in PAGES if not (Path(tmp) / p).is_file()]
        if missing:  # Chromium or Playwright absent: the tests skipped
            print(f"no screenshots taken ({', '.join(missing)} missing): is Chromium at "
                  "/usr/bin/chromium and Playwright installed?", file=sys.stderr)
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        for name in PAGES:
            size = shrink(Path(tmp) / name, args.out / name)
            print(f"{args.out / name}: {size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
