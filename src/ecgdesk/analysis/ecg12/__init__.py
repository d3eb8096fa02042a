"""Resting 12-lead ECG: delineation, measurements, rhythm and interpretive statements."""
