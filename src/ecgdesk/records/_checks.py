"""Checks every reader applies the same way, so errors read the same whatever the format."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

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


def read_mapped_frames(path: Path, offset: int, width: int, start: int, stop: int) -> np.ndarray:
    """int16 frames ``[start, stop)`` of an interleaved little-endian file, through a temporary map.

    A map of just the range is made and dropped per call, so streaming a multi-GB file keeps only the
    current chunk resident (a map of the whole file would count every page touched so far in RSS).
    """
    if stop <= start:
        return np.zeros((0, width), dtype="<i2")
    mapped = np.memmap(path, dtype="<i2", mode="r", offset=offset + 2 * width * start,
                       shape=(stop - start, width))
    frames = np.array(mapped)
    del mapped  # the last reference: the map is closed here
    return frames
