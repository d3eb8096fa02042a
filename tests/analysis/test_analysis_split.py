"""A split analysis (segments analysed apart, then merged) equals the single-process analysis, field by field,
on a simulated recording whose events cross the segment borders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import findings_to_dict
from ecgdesk.analysis.pipeline import AnalysisResult, analyze
from ecgdesk.analysis.split import (
    SplitPlan,
    analyze_segment,
    analyze_split,
    load_segment,
    merge_segments,
    plan_split,
    save_segment,
)
from ecgdesk.errors import InputError
from ecgdesk.records import Recording, open_recording
from ecgdesk.records.simulator import SimulationConfig, simulate

EVENTS = "af:1x4m,pause:2x3.5s,vt:3x8,svt:2x10,couplet:2x2,pvc:60/h,pac:30/h,noise:1x1m,trigger:2"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("split")
    result = simulate(SimulationConfig(days=0.5 / 24, seed=11, events=EVENTS), out)
    return open_recording(result.record), result.diary, json.loads(result.truth.read_text())


def assert_same(a: AnalysisResult, b: AnalysisResult) -> None:
    assert findings_to_dict(a.findings) == findings_to_dict(b.findings)
    assert np.array_equal(a.beats.samples, b.beats.samples)
    assert np.array_equal(a.beats.labels, b.beats.labels)


def crossing(truth: dict[str, object], border_s: float, kinds: set[str]) -> list[str]:
    """The episodes of ``kinds`` that contain a multiple of ``border_s``."""
    found = []
    for e in truth["episodes"]:  # type: ignore[attr-defined]
        k0, k1 = int(e["start_s"] // border_s), int(e["end_s"] // border_s)
        if e["type"] in kinds and k1 > k0:
            found.append(e["type"])
    return found


def test_split_at_every_block_equals_the_single_process_run(
    simulated: tuple[Recording, Path, dict[str, object]],
) -> None:
    """10 s blocks, each its own segment: 180 borders, through the AF episode, runs, pauses and noise."""
    recording, diary, truth = simulated
    config = AnalysisConfig(chunk_s=10.0)
    assert {"af", "noise"} <= set(crossing(truth, 10.0, {"af", "noise", "vt", "svt", "pause"}))
    assert crossing(truth, 10.0, {"vt", "svt", "pause", "couplet"})  # a short event across a border too
    whole = analyze(recording, diary=diary, config=config)
    assert whole.findings.summary.total_beats > 1500
    split = analyze_split(recording, 10.0, diary=diary, config=config)
    assert_same(whole, split)
    # each border beat once: no two beats closer than a refractory period, none lost at the borders
    assert np.all(np.diff(split.beats.samples) > 0.2 * recording.fs)


def test_daily_style_segments_through_files_equal_the_single_process_run(
    simulated: tuple[Recording, Path, dict[str, object]], tmp_path: Path
) -> None:
    """Default settings, 10-minute segments carried through files (as between workers)."""
    recording, diary, _ = simulated
    plan = plan_split(recording, 600.0)
    assert len(plan.segments) == 3
    assert SplitPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    files = [save_segment(analyze_segment(recording, plan, i), tmp_path / f"{i}.npz") for i in (2, 0, 1)]
    merged = merge_segments(recording, plan, [load_segment(f) for f in files], diary)
    assert_same(analyze(recording, diary=diary), merged)


def test_plan_covers_the_recording_in_whole_blocks(
    simulated: tuple[Recording, Path, dict[str, object]],
) -> None:
    recording, _, _ = simulated
    b = int(600 * recording.fs)
    assert recording.n_samples == 3 * b
    plan = plan_split(recording, 900.0)  # rounded to whole 600 s blocks
    assert [(s.start, s.stop) for s in plan.segments] == [(0, 2 * b), (2 * b, 3 * b)]
    plan = plan_split(recording, 600.0)
    assert [(s.start, s.stop) for s in plan.segments] == [(0, b), (b, 2 * b), (2 * b, 3 * b)]
    # a last block of half a second joins the segment before it (alone, it could not be judged)
    config = AnalysisConfig(chunk_s=10.0)
    n = recording.n_samples - int(9.5 * recording.fs)
    short = Recording.from_array(recording.read(0, n), recording.fs, recording.lead_names)
    last = plan_split(short, 10.0, config=config).segments[-1]
    assert (last.start, last.stop) == (n - int(10.5 * recording.fs), n)
    assert_same(analyze(short, config=config), analyze_split(short, 10.0, config=config))
    with pytest.raises(InputError, match="segment_s"):
        plan_split(recording, 0)
    with pytest.raises(InputError, match="the parts cover"):
        merge_segments(recording, plan, [analyze_segment(recording, plan, 0)])
