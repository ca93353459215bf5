"""Comparison scores, threshold calibration, fusion and decisions."""
