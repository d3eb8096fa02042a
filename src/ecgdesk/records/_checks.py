"""Checks every reader applies the same way, so errors read the same whatever the format."""

from __future__ import annotations

import math
from pathlib import Path

from ecgdesk.errors import RecordingError

MAX_FS = 100_000.0  # above this no ECG recorder samples; a header saying so is corrupt


def check_fs(path: str | Path, fs: float | str, field: str = "fs") -> float:
    """Return ``fs`` as float if it is a plausible sampling rate, else raise :class:`RecordingError`."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise RecordingError(path, field, f"sampling rate {fs!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise RecordingError(path, field, f"sampling rate must be a positive number, got {fs!r}")
    if value > MAX_FS:
        raise RecordingError(path, field, f"sampling rate {value:g} Hz is not plausible for an ECG "
                                          f"(limit {MAX_FS:g} Hz)")
    return value


def check_size(path: Path, expected: int, field: str, what: str) -> None:
    """Compare a signal file's size with the size its header implies; name which side is wrong."""
    try:
        actual = path.stat().st_size
    except OSError as exc:
        raise RecordingError(path, "file", f"cannot be read: {exc.strerror or exc}") from None
    if actual < expected:
        raise RecordingError(path, field, f"file is truncated: {what} needs {expected} bytes but the file "
                                          f"has {actual}")
    if actual > expected:
        raise RecordingError(path, field, f"header is inconsistent with the file size: {what} needs "
                                          f"{expected} bytes but the file has {actual}")
