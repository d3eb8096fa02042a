"""Output files: WFDB annotations read back by wfdb, CSV text, atomic writes, bad findings files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb
from test_ambulatory_findings import make_findings

from ecgdesk.analysis.io import AAMI_TO_MIT, read_findings, write_outputs
from ecgdesk.errors import InputError


def test_annotation_file_reads_back_with_wfdb_including_long_gaps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    steps = rng.integers(50, 400, 5000)
    steps[[10, 100, 1000]] = [1024, 70_000, 5_000_000]  # SKIP intervals, one over 16 bits
    samples = np.cumsum(steps).astype(np.int64)
    labels = rng.choice(list("NSVFQ"), samples.size).astype("<U1")
    findings, paths = write_outputs(make_findings(), samples, labels, 250.0, tmp_path, "rec")
    ann = wfdb.rdann(str(tmp_path / "rec"), "ecgdesk")
    assert ann.sample.tolist() == samples.tolist()
    assert ann.symbol == [AAMI_TO_MIT[c] for c in labels.tolist()]
    lines = paths.beats.read_text().splitlines()
    assert lines[0] == "sample,symbol" and lines[1] == f"{samples[0]},{labels[0]}" and len(lines) == 5001
    assert findings.beats_file == "beats.csv" and findings.annotation_file == "rec.ecgdesk"
    assert read_findings(paths.findings) == findings
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_read_findings_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "findings.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"findings\.json: field 'findings': not valid JSON"):
        read_findings(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_findings(tmp_path / "absent.json")
    assert bad.read_text(encoding="utf-8") == "{not json"
