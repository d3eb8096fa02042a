"""Second-degree AV block in the whole analysis: found, and its conducted beats are not counted as S."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.analysis.findings import EpisodeType
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.cli.main import main as cli
from ecgdesk.records import open_recording


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("avb")
    # a Wenckebach (Mobitz I) and a 3:2 Mobitz II stretch: the S model calls the last conducted beat of
    # each group S, and until algorithm 0.5.8 that hid the Wenckebach and most blocked P waves
    assert cli(["simulate", "--hours", "0.5", "--leads", "1", "--fs", "250", "--seed", "5",
                "--events", "avb2:2x2m,pac:20/h", "--out", str(out)]) == 0
    hea = sorted(out.glob("*.hea"))[0]
    return hea, json.loads(hea.with_name(hea.stem + ".truth.json").read_text())


def test_second_degree_block_is_found_and_its_beats_are_not_s(blocked):
    hea, truth = blocked
    result = analyze(open_recording(hea))
    t, labels = result.beats.samples / 250.0, result.beats.labels
    spans = {e["mobitz"]: (e["start_s"], e["end_s"]) for e in truth["episodes"] if e["type"] == "avb2"}
    assert set(spans) == {"I", "II"}
    found = [e for e in result.findings.episodes if e.type is EpisodeType.AVB2]
    for a, b in spans.values():
        assert any(e.start_s <= b and a <= e.end_s for e in found), (a, b, found)
    # Wenckebach: grouped beating, and none of its conducted beats is S
    a, b = spans["I"]
    inside = (t > a + 5) & (t < b - 5)
    assert inside.sum() > 50 and np.count_nonzero(labels[inside] == "S") == 0
    # Mobitz II: the beat before each blocked P wave found is N (the S model called it S)
    blocked_p = [e for e in found if "not followed by a QRS" in e.evidence]
    assert len(blocked_p) >= 5
    before = np.searchsorted(result.beats.samples, [e.start_sample for e in blocked_p])
    assert set(labels[before].tolist()) == {"N"}
