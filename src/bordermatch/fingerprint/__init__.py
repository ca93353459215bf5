"""Fingerprints for handheld exit devices: capture, NFIQ 2 quality, ISO/IEC 19794-2
minutiae templates, Bozorth3 comparison calibrated to a target FMR, and a 1:N watchlist.

Import the submodules (``capture``, ``quality``, ``minutiae``, ``match``, ``watchlist``);
nothing heavy is imported here, and the NBIS backend loads on first use.
"""
