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
from ecgdesk.records.writers import write_beat_annotations

ANNOTATION_EXTENSION = "ecgdesk"
#: AAMI class -> MIT-BIH beat symbol for the WFDB annotation file.
AAMI_TO_MIT = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}


@dataclass(frozen=True)
class OutputPaths:
    findings: Path
    beats: Path
    annotation: Path


def _atomic_write(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    _atomic_write(paths.beats, beats_csv_text(samples, labels))
    with tempfile.TemporaryDirectory(prefix=".ann.", dir=out_dir) as tmp:
        symbols = [AAMI_TO_MIT[c] for c in np.asarray(labels).tolist()]
        if has_beats:
            written = write_beat_annotations(Path(tmp) / stem, ANNOTATION_EXTENSION, samples, symbols, fs)
            os.replace(written, paths.annotation)
        else:
            paths.annotation.unlink(missing_ok=True)
    _atomic_write(paths.findings, json.dumps(findings_to_dict(findings), indent=1) + "\n")
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
