"""Multi-lead QRS detection: another lead bridges the analysed lead where it loses its signal."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb

from conftest import shared_path
from ecgdesk.analysis.detection import (
    confirmed_by_others,
    detect_qrs,
    detect_qrs_multilead,
    fill_gaps_from_backup,
)
from ecgdesk.analysis.evaluation import BEAT_SYMBOLS, match_beats
from ecgdesk.errors import InputError

FS = 250.0


def _two_leads(beat_times: np.ndarray, seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """Two leads (mV) with a narrow QRS at each time: lead 1 is an inverted, smaller view."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros((t.size, 2))
    for b in beat_times:
        qrs = np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        wave = np.exp(-0.5 * ((t - b - 0.3) / 0.06) ** 2)
        x[:, 0] += 1.2 * qrs + 0.25 * wave
        x[:, 1] += -0.7 * qrs + 0.15 * wave
    return x + 0.01 * rng.standard_normal(x.shape)


def _regular(seconds: float = 60.0, rr: float = 0.8) -> np.ndarray:
    return np.arange(0.5, seconds - 0.5, rr)


def test_blocked_amplifier_is_bridged_by_the_other_lead():
    beats = _regular()
    x = _two_leads(beats)
    # lead 0 blocks for 5 s: a jump far beyond the QRS height, decaying slowly, no QRS visible
    t = np.arange(x.shape[0]) / FS
    lost = (t >= 20.0) & (t < 25.0)
    x[lost, 0] = 4.0 * np.exp(-(t[lost] - 20.0) / 2.0)
    single = detect_qrs(x[:, 0], FS).samples
    multi = detect_qrs_multilead(x, FS, primary=0)
    ref = np.round(beats * FS).astype(int)
    assert match_beats(ref, single, FS).fn >= 4
    m = match_beats(ref, multi.samples, FS)
    assert m.fn == 0 and m.fp <= 1  # the primary may take the block's step itself for a beat
    inside = (multi.samples >= 20.3 * FS) & (multi.samples < 25 * FS)
    assert np.all(multi.from_backup[inside]) and np.all(~multi.from_backup[multi.samples < 19.8 * FS])
    assert np.all(multi.source_lead[multi.from_backup] == 1)


def test_a_real_pause_stays_a_pause():
    beats = _regular()
    beats = np.concatenate([beats[beats < 20.0], beats[beats > 23.5]])  # 3.5 s without a beat on any lead
    x = _two_leads(beats)
    multi = detect_qrs_multilead(x, FS)
    assert multi.samples.size == beats.size and not multi.from_backup.any()


def test_a_noisy_backup_lead_adds_nothing_to_a_pause():
    beats = _regular()
    beats = np.concatenate([beats[beats < 20.0], beats[beats > 23.5]])
    x = _two_leads(beats)
    rng = np.random.default_rng(3)
    t = np.arange(x.shape[0]) / FS
    burst = (t > 20.2) & (t < 23.3)
    x[burst, 1] += 1.5 * rng.standard_normal(int(burst.sum()))  # muscle noise on the backup lead only
    multi = detect_qrs_multilead(x, FS)
    pause = (multi.samples > 20.3 * FS) & (multi.samples < 23.3 * FS)
    assert not pause.any()


def _three_leads(beat_times: np.ndarray, extra_on: tuple[int, ...], extra_at: float) -> np.ndarray:
    """Three leads with a narrow QRS at each time, and at ``extra_at`` one more narrow deflection on the
    leads ``extra_on`` only; lead 0 never shows it."""
    t = np.arange(int(60.0 * FS)) / FS
    x = np.zeros((t.size, 3))
    rng = np.random.default_rng(2)
    for b in beat_times:
        qrs = np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += np.outer(qrs, [1.2, -0.7, 0.9])
    for lead in extra_on:
        x[:, lead] += 0.9 * np.exp(-0.5 * ((t - extra_at) / 0.012) ** 2)
    return x + 0.01 * rng.standard_normal(x.shape)


def test_with_several_backup_leads_a_gap_beat_must_show_on_two_of_them():
    """A long RR of the analysed lead (1.6 s, as in AF) that it did not lose: a deflection in the gap on
    one backup lead of two is that lead's own (a fibrillatory or T wave, LUDB 38) and is not added; on both
    it is a beat the analysed lead missed and is added."""
    beats = np.concatenate([np.arange(0.5, 30.0, 0.8), np.arange(31.5, 59.0, 0.8)])
    gap_middle = 30.7
    alone = detect_qrs_multilead(_three_leads(beats, (1,), gap_middle), FS)
    assert alone.samples.size == beats.size and not alone.from_backup.any()
    both = detect_qrs_multilead(_three_leads(beats, (1, 2), gap_middle), FS)
    assert both.samples.size == beats.size + 1
    added = both.samples[both.from_backup]
    assert added.size == 1 and abs(added[0] / FS - gap_middle) < 0.05


@pytest.mark.shared_data
def test_ludb_38_af_gains_no_beat_from_one_lead_of_eleven():
    """LUDB 38 (AF) through ``analyze`` on lead II: a long RR of 0.73 s, where one of the eleven other leads
    read a fibrillatory wave as a beat that 0.5.25 added; 0.5.26 needs a second lead."""
    from ecgdesk.analysis.pipeline import analyze
    from ecgdesk.records import open_recording

    base = str(shared_path("ludb", "38.hea").with_suffix(""))
    ann = wfdb.rdann(base, "ii")
    reference = ann.sample[np.array(ann.symbol) == "N"]
    found = analyze(open_recording(base + ".hea"), lead="ii").beats.samples
    found = found[(found >= reference.min() - 75) & (found <= reference.max() + 75)]
    m = match_beats(reference, found, 500.0)
    assert m.fn == 0 and m.fp == 0


def test_a_beat_no_other_lead_shows_is_dropped_where_two_other_leads_follow_the_rhythm():
    primary = np.array([100, 300, 400, 500, 700, 900])  # 400: a tall T wave of the analysed lead only
    beats = np.array([101, 299, 501, 699, 901])
    keep = confirmed_by_others(primary, [beats, beats + 3], tol=25)
    assert list(primary[keep]) == [100, 300, 500, 700, 900]
    # one other lead (a Holter's) cannot outvote the analysed lead; nor leads that lose the rhythm there
    assert confirmed_by_others(primary, [beats], tol=25).all()
    assert confirmed_by_others(primary, [beats, np.array([101, 901])], tol=25).all()
    # a beat the other leads show, the first and the last beat stay
    assert confirmed_by_others(np.array([99, 300, 902]), [np.array([700]), np.array([800])], tol=25).all()


def test_a_wave_of_the_analysed_lead_alone_is_not_a_beat_on_a_three_lead_record():
    """Three leads; lead 0 also carries a narrow deflection 0.35 s after every 5th beat that the other two
    do not (a T wave or pacing spike of that lead alone): the detector on lead 0 counts it, the multi-lead
    detection drops it; with lead 0 and one other lead only, it stays."""
    beats = _regular()
    x = _three_leads(beats, (), 0.0)
    t = np.arange(x.shape[0]) / FS
    for b in beats[2::5]:
        x[:, 0] += 1.1 * np.exp(-0.5 * ((t - b - 0.35) / 0.012) ** 2)
    ref = np.round(beats * FS).astype(int)
    assert match_beats(ref, detect_qrs(x[:, 0], FS).samples, FS).fp >= 10
    m = match_beats(ref, detect_qrs_multilead(x, FS).samples, FS)
    assert m.fn == 0 and m.fp == 0
    assert match_beats(ref, detect_qrs_multilead(x[:, :2], FS).samples, FS).fp >= 10


@pytest.mark.shared_data
@pytest.mark.parametrize(("record", "lead"), [(80, "avl"), (48, "v1")])
def test_ludb_waves_of_one_lead_are_not_beats(record: int, lead: str):
    """LUDB 80 aVL (its T wave taller and sharper than its QRS) and 48 V1 through ``analyze``: 9 and 6 false
    beats with algorithm 0.5.26, where no other lead shows a QRS; none since 0.5.27."""
    from ecgdesk.analysis.pipeline import analyze
    from ecgdesk.records import open_recording

    base = str(shared_path("ludb", f"{record}.hea").with_suffix(""))
    ann = wfdb.rdann(base, lead)
    reference = ann.sample[np.array(ann.symbol) == "N"]
    found = analyze(open_recording(base + ".hea"), lead=lead).beats.samples
    found = found[(found >= reference.min() - 75) & (found <= reference.max() + 75)]
    m = match_beats(reference, found, 500.0)
    assert m.fn == 0 and m.fp == 0


def test_a_lost_stretch_is_bridged_by_the_one_readable_backup_lead():
    beats = _regular()
    x = np.concatenate([_two_leads(beats), np.zeros((int(60.0 * FS), 1))], axis=1)  # lead 2: disconnected
    t = np.arange(x.shape[0]) / FS
    lost = (t >= 20.0) & (t < 25.0)
    x[lost, 0] = 4.0 * np.exp(-(t[lost] - 20.0) / 2.0)
    multi = detect_qrs_multilead(x, FS, primary=0)
    m = match_beats(np.round(beats * FS).astype(int), multi.samples, FS)
    assert m.fn == 0 and m.fp <= 1
    assert np.all(multi.source_lead[multi.from_backup] == 1)


def test_gap_filling_rules():
    fs = 100.0
    primary = np.array([0, 80, 160, 240, 480, 560, 640])  # one gap: 240 -> 480
    backup = np.array([1, 81, 161, 241, 320, 400, 481, 561])
    assert list(backup[fill_gaps_from_backup(primary, backup, fs)]) == [320, 400]
    # the backup does not agree on the beats bounding the gap and the primary did not lose its signal
    assert fill_gaps_from_backup(primary, backup[[0, 1, 2, 4, 5, 7]], fs).size == 0
    lost = np.zeros(primary.size - 1, dtype=bool)
    lost[3] = True
    assert list(backup[[0, 1, 2, 4, 5, 7]][fill_gaps_from_backup(primary, backup[[0, 1, 2, 4, 5, 7]], fs,
                                                                 lost)]) == [320, 400]
    # a backup firing faster than a plausible RR inside the gap is noise there: nothing is taken
    noisy = np.array([1, 81, 161, 241, 300, 320, 400, 481])
    assert fill_gaps_from_backup(primary, noisy, fs).size == 0
    assert fill_gaps_from_backup(primary[:2], backup, fs).size == 0


def test_bad_primary_index():
    with pytest.raises(InputError, match="primary"):
        detect_qrs_multilead(np.zeros((1000, 2)), FS, primary=2)
    one = detect_qrs_multilead(_two_leads(_regular())[:, 0], FS)
    assert one.samples.size == _regular().size and not one.from_backup.any()


@pytest.mark.shared_data
def test_mitdb_208_reaches_the_target_with_both_leads():
    base = str(shared_path("mitdb", "208.hea").with_suffix(""))
    rec = wfdb.rdrecord(base)
    ann = wfdb.rdann(base, "atr")
    ref = ann.sample[np.array([s in BEAT_SYMBOLS for s in ann.symbol])]
    m = match_beats(ref, detect_qrs_multilead(rec.p_signal, float(rec.fs), primary=0).samples, float(rec.fs))
    assert m.se >= 99.7 and m.ppv >= 99.7


def test_pipeline_labels_bridged_beats_q():
    from ecgdesk.analysis.config import AnalysisConfig
    from ecgdesk.analysis.pipeline import analyze
    from ecgdesk.records import Recording

    beats = _regular(120.0)
    x = _two_leads(beats, 120.0)
    t = np.arange(x.shape[0]) / FS
    lost = (t >= 60.0) & (t < 64.0)
    x[lost, 0] = 3.0 * np.exp(-(t[lost] - 60.0) / 2.0)
    recording = Recording.from_array(x.astype(np.float32), FS, ["ch1", "ch2"])
    table = analyze(recording, lead="ch1").beats
    q = table.samples[table.labels == "Q"] / FS
    assert q.size >= 4 and np.all((q > 60.0) & (q < 64.0))
    alone = analyze(recording, lead="ch1", config=AnalysisConfig(backup_leads=False)).beats
    assert "Q" not in set(alone.labels) and alone.samples.size <= table.samples.size - 4
