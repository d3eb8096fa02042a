"""Writing the analysis outputs: ``findings.json``, ``beats.csv`` and a WFDB annotation file.

Every file is written under a temporary name in the output folder and renamed into place, so a reader
never sees a half-written file and an interrupted run leaves the previous outputs intact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgdesk.analysis.findings import Findings, findings_from_dict, findings_to_dict
from ecgdesk.errors import InputError

ANNOTATION_EXTENSION = "ecgdesk"
#: AAMI class -> MIT-BIH beat symbol for the WFDB annotation file.
AAMI_TO_MIT = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}
#: WFDB annotation codes of those symbols (ecgcodes.h): NORMAL 1, PVC 5, FUSION 6, APC 8, UNKNOWN 13.
_MIT_CODES = {"N": 1, "S": 8, "V": 5, "F": 6, "Q": 13}
_SKIP = 59


def encode_wfdb_annotations(samples: np.ndarray, labels: np.ndarray) -> bytes:
    """MIT-format annotation bytes of beats (AAMI labels as MIT codes), vectorised for millions of beats.

    Each annotation is a little-endian 16-bit word ``code << 10 | interval``; an interval over 1023 samples
    is preceded by a SKIP word and its 32-bit interval (high 16 bits first), as in the WFDB library.
    """
    samples = np.asarray(samples, dtype=np.int64)
    codes = np.zeros(samples.size, dtype=np.uint16)
    for label, code in _MIT_CODES.items():
        codes[np.asarray(labels) == label] = code
    delta = np.diff(samples, prepend=0)
    long = delta > 1023
    # words per annotation: 3 for SKIP + 32-bit interval, then 1 for the annotation itself
    n_words = 1 + 3 * long.astype(np.int64)
    pos = np.cumsum(n_words) - n_words
    out = np.zeros(int(n_words.sum()) + 1, dtype="<u2")  # + the 0 word that ends the file
    li = pos[long]
    d = delta[long]
    out[li] = _SKIP << 10
    out[li + 1] = (d >> 16) & 0xFFFF
    out[li + 2] = d & 0xFFFF
    out[pos + 3 * long] = (codes << 10) | np.where(long, 0, delta).astype(np.uint16)
    return out.tobytes()


@dataclass(frozen=True)
class OutputPaths:
    findings: Path
    beats: Path
    annotation: Path


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` whole or not at all, with the usual file mode."""
    _atomic_write_bytes(target, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def beats_csv_text(samples: np.ndarray, labels: np.ndarray) -> str:
    """``sample,symbol`` CSV text, one row per beat."""
    rows = [
        f"{s},{c}" for s, c in zip(np.asarray(samples).tolist(), np.asarray(labels).tolist(), strict=True)
    ]
    return "sample,symbol\n" + "".join(r + "\n" for r in rows)


def write_outputs(
    findings: Findings, samples: np.ndarray, labels: np.ndarray, fs: float, out_dir: Path, record_name: str
) -> tuple[Findings, OutputPaths]:
    """Write the three outputs into ``out_dir``; returns the findings with the file names filled in."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            "out", f"cannot create the output folder: {error.strerror or error}", out_dir
        ) from None
    stem = record_name or "record"
    paths = OutputPaths(
        out_dir / "findings.json", out_dir / "beats.csv", out_dir / f"{stem}.{ANNOTATION_EXTENSION}"
    )
    has_beats = bool(np.asarray(samples).size)
    findings = dataclasses.replace(
        findings, beats_file=paths.beats.name, annotation_file=paths.annotation.name if has_beats else None
    )
    write_text_atomic(paths.beats, beats_csv_text(samples, labels))
    if has_beats:
        _atomic_write_bytes(paths.annotation, encode_wfdb_annotations(samples, labels))
    else:
        paths.annotation.unlink(missing_ok=True)
    write_text_atomic(paths.findings, json.dumps(findings_to_dict(findings), indent=1) + "\n")
    return findings, paths


def read_findings(path: Path) -> Findings:
    """Load a ``findings.json``; a file that is not one raises :class:`InputError` naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError("findings", f"cannot read: {error.strerror or error}", path) from None
    except json.JSONDecodeError as error:
        raise InputError("findings", f"not valid JSON: {error.msg} at line {error.lineno}", path) from None
    return findings_from_dict(data, source=str(path))
