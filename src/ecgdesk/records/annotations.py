"""Beat annotations: WFDB annotation files (``.atr``, ``.qrs`` ...) and ISHNE ``ANN  1.0`` files."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.errors import RecordingError
from ecgdesk.records import _ishne
from ecgdesk.records._checks import check_fs, check_in_memory_size, check_regular_file


@dataclass(frozen=True)
class BeatAnnotations:
    """Annotations of one file: sample index, symbol and aux note of each (all the same length)."""

    sample: np.ndarray
    symbol: tuple[str, ...]
    aux_note: tuple[str, ...]
    fs: float | None = None

    def __len__(self) -> int:
        return int(self.sample.size)


def read_wfdb_annotations(record: Path, extension: str) -> BeatAnnotations:
    """``wfdb.rdann`` on ``<record>.<extension>``, errors as :class:`RecordingError`."""
    target = record.with_name(f"{record.name}.{extension}")
    if not target.exists():
        raise RecordingError(target, "file", "annotation file not found")
    check_regular_file(target)
    try:
        ann = wfdb.rdann(str(record), extension)
    except Exception as exc:  # wfdb raises bare exceptions on corrupt annotation files
        raise RecordingError(target, "annotations", f"not a valid WFDB annotation file: {exc}") from None
    n = len(ann.sample)
    aux = tuple(ann.aux_note) if ann.aux_note is not None else ("",) * n
    return BeatAnnotations(sample=np.asarray(ann.sample, dtype=np.int64), symbol=tuple(ann.symbol),
                           aux_note=aux, fs=float(ann.fs) if ann.fs else None)


def read_ishne_annotations(path: Path) -> BeatAnnotations:
    """An ISHNE ``ANN  1.0`` file: header, u32 first sample, then (label, internal label, RR u16) records."""
    check_in_memory_size(path, check_regular_file(path), "an ISHNE annotation file")
    raw = path.read_bytes()
    try:
        header = _ishne.unpack_header(raw, magic=_ishne.ANN_MAGIC)
    except _ishne.HeaderError as problem:
        raise RecordingError(path, problem.field, problem.reason) from None
    body = raw[header.ecg_offset:]
    if len(body) < 4 or (len(body) - 4) % 4:
        raise RecordingError(path, "annotations", f"annotation block of {len(body)} bytes is truncated "
                                                  "(expected 4 + 4 per beat)")
    if header.fs is not None and header.fs > 0:
        check_fs(path, header.fs, "sample_rate")
    first = struct.unpack_from("<I", body, 0)[0]
    records = np.frombuffer(body, dtype=[("label", "S1"), ("internal", "S1"), ("rr", "<u2")], offset=4)
    samples = first + np.cumsum(records["rr"].astype(np.int64))
    symbols = tuple(label.decode("latin-1") for label in records["label"])
    return BeatAnnotations(sample=samples, symbol=symbols, aux_note=("",) * len(symbols),
                           fs=float(header.fs) if header.fs > 0 else None)


def read_beat_annotations(path: str | Path, extension: str = "atr") -> BeatAnnotations:
    """Read beat annotations of a record.

    ``path`` is an ISHNE annotation file (recognised by its ``ANN  1.0`` magic), a WFDB annotation
    file (``100.atr``), or a WFDB record (``100``, ``100.hea``, ``100.dat``) whose
    ``<record>.<extension>`` is read.
    """
    target = Path(path)
    if target.is_file():
        with open(target, "rb") as file:
            head = file.read(8)
        if head == _ishne.ANN_MAGIC:
            return read_ishne_annotations(target)
        suffix = target.suffix.lower()
        if suffix not in (".hea", ".dat", ""):
            return read_wfdb_annotations(target.with_suffix(""), target.suffix[1:])
    record = target.with_suffix("") if target.suffix.lower() in (".hea", ".dat") else target
    return read_wfdb_annotations(record, extension)
