"""The NBIS backend (nbis-py 0.1.3): MINDTCT, Bozorth3 and NFIQ 2 v2.3.0, imported lazily.

Everything that touches the ``nbis`` module lives here, so the rest of the package works on
frozen dataclasses and bytes. See docs/fingerprints.md for why nbis-py and not nbis-python.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

from bordermatch.errors import ModelNotFoundError

NBIS_PACKAGE = "nbis-py"
NBIS_VERSION = "0.1.3"
NFIQ2_VERSION = "2.3.0"
# nbis-rs stores minutia quality as 0-63 and puts the minutiae count at byte 25 of a
# 26-byte header (its own reading of ISO/IEC 19794-2:2005; see docs/fingerprints.md).
_NBIS_HEADER = 26


def _module() -> Any:
    try:
        import nbis
    except ImportError:
        raise ModelNotFoundError(
            "fingerprints need the NBIS backend: pip install 'bordermatch[fingerprint]' "
            f"({NBIS_PACKAGE}=={NBIS_VERSION})"
        ) from None
    except OSError as exc:  # a wheel whose shared libraries do not load on this system
        raise ModelNotFoundError(f"the NBIS backend does not load here: {exc}") from None
    return nbis


@functools.cache
def extractor(with_nfiq2: bool, with_sivv: bool = False) -> Any:
    """One NBIS extractor per setting. MINDTCT keeps every minutia (min_quality 0): quality
    filtering is Bozorth3's job, which keeps the 150 most reliable. With ``with_sivv`` NIST's
    SIVV spectral test runs first, and a non-fingerprint yields no minutiae at all."""
    nbis = _module()
    settings = nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
                                          check_fingerprint=with_sivv,
                                          compute_nfiq2=with_nfiq2, ppi=500.0)
    return nbis.new_nbis_extractor(settings)


def nbis_errors() -> tuple[type[BaseException], ...]:
    nbis = _module()
    return (nbis.NbisError, nbis.InternalError)


def to_nbis(width: int, height: int, rows: list[tuple[int, int, int, int, int]]) -> Any:
    """An NBIS ``Minutiae`` object for Bozorth3 from (kind, x, y, iso_angle, quality_0_100)
    rows, kind 1 = ridge ending, 2 = bifurcation."""
    count = min(len(rows), 255)
    buf = bytearray(b"FMR\x00 20\x00")
    buf += struct.pack(">IHHH", _NBIS_HEADER + 6 * count, 0, width, height)
    buf += bytes(7) + bytes([count])
    for kind, x, y, angle, quality in rows[:count]:
        buf += struct.pack(">HHBB", (kind << 14) | x, y, angle, min(63, quality * 63 // 100))
    return extractor(False).load_iso_19794_2_2005(bytes(buf))
