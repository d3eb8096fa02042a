"""Property: however the samples are split into blocks, the writers produce the same file, and reading
it back gives the input to within half an ADC unit (clipped at +-32.767 mV)."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgdesk.records import Lead, open_recording, open_writer
from ecgdesk.records.writers import ADC_GAIN


@settings(max_examples=25, deadline=None, database=None)
@given(
    fmt=st.sampled_from(["wfdb", "ishne"]),
    n=st.integers(min_value=12, max_value=400),
    n_leads=st.integers(min_value=1, max_value=4),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_any_block_split_round_trips(fmt: str, n: int, n_leads: int, cuts: list[int], seed: int) -> None:
    data = np.random.default_rng(seed).normal(0, 12, size=(n, n_leads))  # some beyond +-32.767 mV
    leads = [Lead(f"L{i}") for i in range(n_leads)]
    with TemporaryDirectory() as folder:
        whole_dir, split_dir = Path(folder) / "whole", Path(folder) / "split"
        with open_writer(whole_dir, "r", fmt, 200, leads) as writer:
            writer.write(data)
        with open_writer(split_dir, "r", fmt, 200, leads) as writer:
            for block in np.split(data, sorted(c for c in cuts if c < n)):
                writer.write(block)
        suffix = ".dat" if fmt == "wfdb" else ".ecg"
        assert (whole_dir / f"r{suffix}").read_bytes() == (split_dir / f"r{suffix}").read_bytes()
        back = open_recording(split_dir / ("r.hea" if fmt == "wfdb" else "r.ecg")).read()
    expected = np.clip(data, -32767 / ADC_GAIN, 32767 / ADC_GAIN)
    np.testing.assert_allclose(back, expected, atol=0.5 / ADC_GAIN + 1e-5)
