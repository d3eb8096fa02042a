"""Checks every reader applies the same way, so errors read the same whatever the format.

Each check runs on header values *before* any sample is read or any array is allocated, and a violation
is one :class:`RecordingError` naming the file, the field, the value found and the range allowed.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

import numpy as np

from ecgdesk.errors import RecordingError
from ecgdesk.records.recording import MAX_FS, MIN_FS

#: The coarsest ADC step an ECG channel can have (a step of over 1 mV cannot show a P wave) ...
MAX_MV_PER_ADU = 1.0
#: ... and the smallest full scale (a channel that cannot hold 0.1 mV cannot hold a QRS complex).
MIN_FULL_SCALE_MV = 0.1
#: Files read whole into memory (CSV, XML) are refused above this size, before reading.
MAX_IN_MEMORY_BYTES = 256 * 1024 * 1024
#: A channel label that names an ECG lead (``ECG``, ``EKG``, ``I`` ... ``V6``, ``MLII``, ``CM5``, ``X``,
#: ``Y``, ``Z``): the readers prefer such channels where a file mixes signal types or rates.
ECG_LABEL = re.compile(
    r"(ecg|ekg|^(lead\s*)?(i|ii|iii|avr|avl|avf|v[1-6]|mlii|ml2|cm[1-6]|x|y|z)$)", re.IGNORECASE
)


def file_kind(mode: int) -> str:
    """Words for a file type that is not a regular file."""
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: str | Path, field: str = "file") -> int:
    """Return the size of ``path`` if it is a regular file (links followed); refuse anything else at once.

    A named pipe, a device or a socket is never opened: opening a FIFO blocks until a writer comes, and a
    device such as ``/dev/zero`` never ends.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise RecordingError(path, field, "no such file") from None
    except OSError as exc:
        raise RecordingError(path, field, f"cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise RecordingError(path, field, f"is {file_kind(info.st_mode)}, not a recording file")
    return int(info.st_size)


def check_fs(path: str | Path, fs: float | str, field: str = "fs") -> float:
    """Return ``fs`` as float if it is a plausible sampling rate, else raise :class:`RecordingError`."""
    try:
        value = float(fs)
    except (TypeError, ValueError, OverflowError):
        raise RecordingError(path, field, f"sampling rate {fs!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise RecordingError(path, field, f"sampling rate must be a positive number, got {fs!r}")
    if not MIN_FS <= value <= MAX_FS:
        raise RecordingError(path, field, f"sampling rate {value:g} Hz is not plausible for an ECG "
                                          f"(allowed {MIN_FS:g} Hz to {MAX_FS:g} Hz)")
    return value


def check_scale(path: str | Path, field: str, mv_per_adu: float, full_scale_mv: float,
                described: str) -> None:
    """An ADC scaling must be finite, non-zero and able to show an ECG.

    ``mv_per_adu`` is the step of one ADC unit in mV and ``full_scale_mv`` the largest amplitude the
    channel can hold; ``described`` says where they come from (e.g. ``gain 200 adu/mV``).
    """
    if not (math.isfinite(mv_per_adu) and math.isfinite(full_scale_mv)) or mv_per_adu == 0:
        raise RecordingError(path, field, f"{described} is not a usable scaling (it must be finite and "
                                          "non-zero)")
    step, scale = abs(mv_per_adu), abs(full_scale_mv)
    if step > MAX_MV_PER_ADU or scale < MIN_FULL_SCALE_MV:
        raise RecordingError(path, field, f"{described} is not plausible for an ECG: one ADC unit is "
                                          f"{step:.3g} mV and the full scale {scale:.3g} mV (allowed: at "
                                          f"most {MAX_MV_PER_ADU:g} mV per unit and a full scale of at "
                                          f"least {MIN_FULL_SCALE_MV:g} mV)")


def check_count(path: str | Path, field: str, value: float, low: int, high: int, what: str) -> int:
    """An integer header count within ``[low, high]``."""
    if not isinstance(value, int | np.integer) and not (isinstance(value, float) and value.is_integer()):
        raise RecordingError(path, field, f"{what} must be a whole number, got {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise RecordingError(path, field, f"{what} {number} is out of range (allowed {low} to {high})")
    return number


def check_in_memory_size(path: str | Path, size: int, what: str) -> None:
    """Refuse a file that would be read whole into memory when it is larger than we read that way."""
    if size > MAX_IN_MEMORY_BYTES:
        raise RecordingError(path, "file", f"{what} of {size / 1e6:.0f} MB is read whole into memory; the "
                                           f"limit is {MAX_IN_MEMORY_BYTES // (1024 * 1024)} MiB (convert "
                                           "long recordings to EDF or WFDB)")


def check_size(path: Path, expected: int, field: str, what: str) -> None:
    """Compare a signal file's size with the size its header implies; name which side is wrong."""
    actual = check_regular_file(path)
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
    try:
        mapped = np.memmap(path, dtype="<i2", mode="r", offset=offset + 2 * width * start,
                           shape=(stop - start, width))
    except (OSError, ValueError) as exc:  # the file shrank or vanished after it was opened
        raise RecordingError(path, "samples", f"cannot be read: {exc}") from None
    frames = np.array(mapped)
    del mapped  # the last reference: the map is closed here
    return frames


def _printable(char: str, ascii_only: bool) -> bool:
    if ascii_only:
        return " " <= char <= "~"
    return char.isprintable() or char == " "


def clean_label(text: str, field: str, fallback: str, warnings: list[str], *,
                ascii_only: bool = False) -> str:
    """A lead name without control (or, where the format says ASCII, non-ASCII) characters.

    A label such as ``'\\xff\\xfe\\x00ECG'`` is a corrupt header far more often than a name: the characters
    are dropped and a warning names the field and the value found (``fallback`` when nothing is left).
    """
    if all(_printable(char, ascii_only) for char in text):
        return text
    kept = "".join(char for char in text if _printable(char, ascii_only)).strip() or fallback
    allowed = "printable ASCII, as the format requires" if ascii_only else "printable characters"
    warnings.append(f"{field} {text!r} holds characters other than {allowed}; read as {kept!r}")
    return kept
