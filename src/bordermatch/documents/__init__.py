"""Travel documents (ICAO Doc 9303): the MRZ (``mrz``), reading it from a photo (``ocr``), the
chip's LDS files (``lds``) and passive authentication of EF.SOD (``passive_auth``).

Every function here takes text or bytes already in memory and returns frozen dataclasses, so
the CLI and the service share one code path; files are read only in ``bordermatch.cli``.
"""
