"""The min/max pyramid: exact against numpy, bounded answers, the raw path in mV, edges, bad input, cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from ecgdesk.errors import InputError
from ecgdesk.records import ArraySource, Lead, Recording, open_recording, write_recording
from ecgdesk.records.pyramid import (
    DATA_FILE,
    FACTOR,
    GAP,
    HEADER_FILE,
    MAX_VALUE,
    MAX_WIDTH_PX,
    TOP_BUCKETS,
    Pyramid,
    SignalWindow,
    build_pyramid,
    lead_quantum_mv,
    quantize,
    raw_bytes,
    signal_window,
)

GAIN = 200.0  # ADC units per mV, as MIT-BIH: a 5 µV step


def _adc_recording(n: int, n_leads: int = 2, seed: int = 0) -> tuple[Recording, np.ndarray]:
    """A recording whose mV values are ADC integers / GAIN (as every ADC reader returns), with a NaN run."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.integers(-40, 41, size=(n, n_leads)), axis=0)
    adc = np.clip(walk + rng.integers(-300, 301, size=(n, n_leads)), -30000, 30000)
    data = (adc / GAIN).astype(np.float32)
    if n > 20_000:
        data[10_000:12_345, n_leads - 1] = np.nan  # lead off
    leads = tuple(Lead(f"L{i + 1}", gain=GAIN) for i in range(n_leads))
    return Recording(fs=250.0, n_samples=n, leads=leads, source=ArraySource(data)), data


def _expected(stored: np.ndarray, window: SignalWindow) -> tuple[np.ndarray, np.ndarray]:
    """numpy's min and max of each pixel's samples (gaps ignored; an all-gap pixel is GAP)."""
    mins, maxs = [], []
    for a, b in zip(window.edges[:-1], window.edges[1:], strict=True):
        part = stored[a:b]
        valid = part[part != GAP]
        mins.append(valid.min() if valid.size else GAP)
        maxs.append(valid.max() if valid.size else GAP)
    return np.array(mins), np.array(maxs)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recording, np.ndarray, Pyramid]:
    recording, data = _adc_recording(1_234_567, seed=1)
    # An odd chunk size, so buckets straddle chunks at every level.
    pyramid = build_pyramid(recording, tmp_path_factory.mktemp("pyr") / "p", chunk_samples=40_009)
    return recording, data, pyramid


def test_min_max_are_exact_and_never_more_than_two_per_pixel(
    built: tuple[Recording, np.ndarray, Pyramid],
) -> None:
    recording, data, pyramid = built
    stored = quantize(data, np.full(2, 1 / GAIN))
    rng = np.random.default_rng(5)
    levels_seen = set()
    for _ in range(300):
        lead = int(rng.integers(0, 2))
        start = float(rng.uniform(0, recording.duration_s - 0.01))
        end = start + float(10 ** rng.uniform(-1.5, 4.0))
        width = int(rng.integers(1, 2500))
        window = signal_window(pyramid, recording, f"L{lead + 1}", start, end, width)
        assert window.n_values <= 2 * width
        levels_seen.add(window.bucket)
        if window.mode == "raw":
            assert np.array_equal(window.values, stored[window.first_sample: window.stop_sample, lead])
            continue
        mins, maxs = _expected(stored[:, lead], window)
        assert np.array_equal(window.mins, mins) and np.array_equal(window.maxs, maxs)
        # Each pixel covers at least one sample, and the pixels tile the covered span without overlap.
        assert np.all(np.diff(window.edges) >= 1)
        assert window.first_sample <= round(start * recording.fs) + window.bucket
    assert {1, FACTOR, FACTOR**2, FACTOR**3} <= levels_seen  # samples and several stored levels were used


def test_pixels_follow_the_requested_scale_within_one_pixel(
    built: tuple[Recording, np.ndarray, Pyramid],
) -> None:
    recording, _, pyramid = built
    window = signal_window(pyramid, recording, "L1", 100.0, 3700.0, 1200)
    ideal = 100.0 * 250 + np.arange(window.edges.size) * (3600.0 * 250 / 1200)
    assert np.max(np.abs(window.edges - ideal)) < 3600.0 * 250 / 1200
    assert window.mins is not None and window.mins.size == 1200


def test_whole_recording_in_one_pixel_and_in_many(built: tuple[Recording, np.ndarray, Pyramid]) -> None:
    recording, data, pyramid = built
    stored = quantize(data, np.full(2, 1 / GAIN))
    one = signal_window(pyramid, recording, "L2", 0.0, recording.duration_s, 1)
    valid = stored[:, 1][stored[:, 1] != GAP]
    assert one.mins is not None and one.maxs is not None
    assert (one.mins[0], one.maxs[0]) == (valid.min(), valid.max())
    assert (one.first_sample, one.stop_sample) == (0, recording.n_samples)
    wide = signal_window(pyramid, recording, "L1", 0.0, recording.duration_s, MAX_WIDTH_PX)
    assert wide.n_values == 2 * MAX_WIDTH_PX


def test_raw_samples_in_mv_when_the_window_holds_no_more_samples_than_pixels(
    built: tuple[Recording, np.ndarray, Pyramid],
) -> None:
    recording, _, pyramid = built
    window = signal_window(pyramid, recording, "L1", 12.0, 16.0, 1200)  # 1,000 samples for 1,200 pixels
    assert window.mode == "raw" and window.values is not None
    assert (window.first_sample, window.stop_sample) == (3000, 4000)
    mv = window.values * window.quantum_mv
    np.testing.assert_allclose(mv, recording.read(3000, 4000, "L1")[:, 0], atol=1e-6)
    assert window.quantum_mv == pytest.approx(1 / GAIN)


def test_gaps_stay_gaps(built: tuple[Recording, np.ndarray, Pyramid]) -> None:
    recording, _, pyramid = built
    inside = signal_window(pyramid, recording, "L2", 10_200 / 250, 12_000 / 250, 100)
    assert inside.mins is not None and inside.maxs is not None
    assert np.all(inside.mins == GAP) and np.all(inside.maxs == GAP)
    raw = signal_window(pyramid, recording, "L2", 40.0, 41.0, 1000)
    assert raw.values is not None and np.all(raw.values == GAP)


def test_window_at_the_end_keeps_the_scale_and_drops_pixels_past_the_end(
    built: tuple[Recording, np.ndarray, Pyramid],
) -> None:
    recording, data, pyramid = built
    stored = quantize(data, np.full(2, 1 / GAIN))
    duration = recording.duration_s
    window = signal_window(pyramid, recording, "L1", duration - 30.0, duration + 30.0, 1200)
    assert window.mins is not None and 580 <= window.mins.size <= 620  # half the pixels: half the window
    assert window.stop_sample == recording.n_samples
    mins, maxs = _expected(stored[:, 0], window)
    assert np.array_equal(window.mins, mins) and np.array_equal(window.maxs, maxs)
    last = signal_window(pyramid, recording, "L1", duration - 1 / 250, duration + 100.0, 7)
    assert last.n_values == 2 and last.stop_sample == recording.n_samples  # one partial pixel ...
    assert recording.n_samples - 1 - last.bucket < last.first_sample < recording.n_samples  # ... snapped
    raw = signal_window(pyramid, recording, "L1", duration - 2.0, duration + 2.0, 1200)
    assert raw.mode == "raw" and raw.values is not None and raw.values.size == 500


def test_partial_last_bucket_of_every_level(tmp_path: Path) -> None:
    n = FACTOR**4 + 3  # every level ends in a bucket of a few samples
    recording, data = _adc_recording(n, n_leads=1, seed=4)
    pyramid = build_pyramid(recording, tmp_path / "p", chunk_samples=FACTOR**3 + 1)
    stored = quantize(data, np.full(1, 1 / GAIN))[:, 0]
    for level in range(len(pyramid.header.levels)):
        bucket = pyramid.header.levels[level].bucket
        mins, maxs = pyramid.buckets(0, level, 0, pyramid.header.levels[level].n_buckets)
        tail = stored[(n - 1) // bucket * bucket:]
        assert (mins[-1], maxs[-1]) == (tail.min(), tail.max())
        full = stored[: bucket * (n // bucket)].reshape(-1, bucket)
        assert np.array_equal(mins[: n // bucket], full.min(axis=1))


def test_cost_is_well_under_the_raw_signal(built: tuple[Recording, np.ndarray, Pyramid]) -> None:
    recording, _, pyramid = built
    assert pyramid.n_bytes <= 0.7 * raw_bytes(recording)
    assert pyramid.n_bytes == pytest.approx(2 / (FACTOR - 1) * raw_bytes(recording), rel=0.01)
    assert (pyramid.folder / DATA_FILE).stat().st_size == pyramid.n_bytes
    assert pyramid.header.levels[-1].n_buckets <= TOP_BUCKETS


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lead": "V5"}, "lead"),
        ({"start_s": -1.0}, "start_s"),
        ({"start_s": float("nan")}, "start_s"),
        ({"start_s": 1e9, "end_s": 2e9}, "start_s"),
        ({"end_s": 5.0}, "end_s"),
        ({"end_s": 4.0}, "end_s"),
        ({"end_s": float("inf")}, "end_s"),
        ({"end_s": 1e300}, "end_s"),
        ({"width_px": 0}, "width_px"),
        ({"width_px": MAX_WIDTH_PX + 1}, "width_px"),
        ({"width_px": 12.5}, "width_px"),
        ({"width_px": True}, "width_px"),
    ],
)
def test_bad_window_names_the_field(
    built: tuple[Recording, np.ndarray, Pyramid], kwargs: dict[str, object], field: str
) -> None:
    recording, _, pyramid = built
    args: dict[str, object] = {"lead": "L1", "start_s": 5.0, "end_s": 15.0, "width_px": 100, **kwargs}
    with pytest.raises(InputError) as caught:
        signal_window(pyramid, recording, **args)  # type: ignore[arg-type]
    assert caught.value.field == field
    if field == "lead":
        assert "L1, L2" in str(caught.value)


def test_lead_names_are_matched_without_case(built: tuple[Recording, np.ndarray, Pyramid]) -> None:
    recording, _, pyramid = built
    assert signal_window(pyramid, recording, "l2", 0.0, 1.0, 10).lead == "L2"


def test_the_recording_is_opened_only_for_samples(built: tuple[Recording, np.ndarray, Pyramid]) -> None:
    recording, _, pyramid = built
    opened: list[int] = []

    def opener() -> Recording:
        opened.append(1)
        return recording

    signal_window(pyramid, opener, "L1", 0.0, 3600.0, 1200)
    assert not opened
    signal_window(pyramid, opener, "L1", 0.0, 10.0, 1200)
    assert opened


def test_quantum_per_lead() -> None:
    assert lead_quantum_mv(Lead("II", gain=200.0)) == pytest.approx(0.005)
    assert lead_quantum_mv(Lead("II", unit="uV", gain=1.0)) == pytest.approx(0.001)
    assert lead_quantum_mv(Lead("II", gain=1e6 / 2500)) == pytest.approx(0.0025)  # ISHNE, 2500 nV
    assert lead_quantum_mv(Lead("II")) == pytest.approx(0.001)  # float samples: 1 µV
    assert lead_quantum_mv(Lead("II", gain=1e5)) == pytest.approx(0.001)  # finer ADC: rounded to 1 µV
    clipped = quantize(np.array([[100.0], [np.nan], [-0.0026]]), np.array([0.001]))
    assert clipped.tolist() == [[MAX_VALUE], [GAP], [-3]]


def test_float_samples_are_rounded_to_a_microvolt(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    data = rng.normal(0, 1.0, 50_000).astype(np.float32)
    recording = Recording.from_array(data, 500.0, ["ECG"])
    pyramid = build_pyramid(recording, tmp_path / "p")
    window = signal_window(pyramid, recording, "ECG", 0.0, 100.0, 300)
    assert window.mins is not None
    first = data[window.edges[0]: window.edges[1]]
    assert abs(window.mins[0] * 0.001 - first.min()) <= 0.0005 + 1e-7


def test_interrupted_build_leaves_nothing(tmp_path: Path) -> None:
    recording, _ = _adc_recording(300_000, seed=2)

    class Failing:
        def read(self, start: int, stop: int, lead_indices: list[int]) -> np.ndarray:
            if start > 100_000:
                raise OSError("disk gone")
            return np.zeros((stop - start, len(lead_indices)), dtype=np.float32)

    broken = Recording(fs=250.0, n_samples=recording.n_samples, leads=recording.leads, source=Failing())
    with pytest.raises(OSError):
        build_pyramid(broken, tmp_path / "p", chunk_samples=50_000)
    assert list(tmp_path.iterdir()) == []


def test_damaged_or_foreign_files_are_refused(tmp_path: Path) -> None:
    recording, _ = _adc_recording(5_000, n_leads=1)
    pyramid = build_pyramid(recording, tmp_path / "p")
    header = (pyramid.folder / HEADER_FILE).read_text()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / HEADER_FILE).write_text(header.replace('"version": 1', '"version": 99'))
    (bad / DATA_FILE).write_bytes(b"")
    with pytest.raises(InputError, match="version"):
        Pyramid.open(bad)
    (bad / HEADER_FILE).write_text(header)
    with pytest.raises(InputError, match="bytes"):
        Pyramid.open(bad)
    (bad / HEADER_FILE).write_text("{not json")
    with pytest.raises(InputError, match="header"):
        Pyramid.open(bad)


def test_built_from_a_wfdb_file_exactly(tmp_path: Path) -> None:
    recording, _ = _adc_recording(90_000, n_leads=2, seed=6)
    header = write_recording(recording, tmp_path, "wfdb", "rec")
    reopened = open_recording(header)
    pyramid = build_pyramid(reopened, tmp_path / "p")
    stored = quantize(reopened.read(), np.array(pyramid.header.quanta_mv))
    window = signal_window(pyramid, reopened, "L2", 3.0, 300.0, 640)
    mins, maxs = _expected(stored[:, 1], window)
    assert np.array_equal(window.mins, mins) and np.array_equal(window.maxs, maxs)


@pytest.mark.shared_data
def test_mitdb_record_exact_in_adc_units(tmp_path: Path) -> None:
    import wfdb

    base = shared_path("mitdb", "100.hea").with_suffix("")
    recording = open_recording(base)
    pyramid = build_pyramid(recording, tmp_path / "p")
    adc = wfdb.rdrecord(str(base), physical=False).d_signal[:, 0].astype(np.int64)
    baseline = recording.leads[0].baseline
    window = signal_window(pyramid, recording, "MLII", 60.0, 1260.0, 1200)
    mins, maxs = _expected((adc - baseline).astype(np.int16), window)
    assert np.array_equal(window.mins, mins) and np.array_equal(window.maxs, maxs)
