"""Beat classes through ``ecgdesk analyze`` on MIT-BIH DS1 and SVDB, and how stable the templates are.

    .venv/bin/python bench/bench_classes.py [--data ../shared/data] [--rates 128,250,500,1000]
                                            [--front-ends 0.5-40,0.67-40] [--noise ma:12,em:12,ma:12@250]
                                            [--sets ds1,svdb] [--chosen-lead]

Every DS1 record (de Chazal et al. 2004's inter-patient training half, the 22 in ``mitdb``) and every
shared SVDB record (never used to train or choose anything) goes through the whole ambulatory analysis,
lead 0, as ``ecgdesk analyze`` runs it. Reference beats are matched at 150 ms and take their AAMI class;
per database, pooled over all reference beats, N/S/V/F Se and +P (EC57: a V call on an F beat does not
count against V +P; a reference beat without a matching detection counts as missed).

On DS1 the S model is in-sample (it was trained on these records); ``bench/train_beats.py --loro`` gives
the leave-one-record-out figures. SVDB's are unseen.

Template stability: the classifier's input of each record (the beat features and R peaks the pipeline
hands it) is classified again without its middle beat, and the labels of the other beats that change are
counted. A classifier whose templates depend on which beats happen to be in the array (not on the beats
themselves) relabels whole templates here.

Other sampling rates (``--rates 128,250,500,1000``): each record is also resampled in memory (scipy's
polyphase ``resample_poly``, rounded to 5 uV as MIT-BIH's ADC) and analysed at each rate, the reference
beats moved to the new rate; rows ``ds1@500`` etc. The rules and the S model were chosen on the records at
their own rate, so the spread of these rows shows how much of a figure rests on thresholds that the
records' own templates happen to fall on one side of (a recording we do not have is such a perturbation
too); on DS1 the S model is in-sample at the native rate only.

Recorder front ends (``--front-ends 0.5-40``): each record is also filtered as a Holter or patch recorder
with that monitoring band would store it, at its own rate (a causal first-order Butterworth high-pass at
the low edge and a second-order low-pass at the high edge, every lead, rounded to 5 uV); rows
``ds1~0.5-40`` etc. MIT-BIH was recorded at 0.1-100 Hz.

Noise (``--noise ma:12,em:12``): each record with the synthetic noise of :mod:`ecgdesk.analysis.noise_stress`
(``bw`` baseline wander, ``ma`` muscle, ``em`` electrode motion) added to every lead at that signal-to-noise
ratio (dB, signal power at the reference beats), the whole record, the same noise for every run (seeded by
the record's name), rounded to 5 uV; rows ``ds1+ma12`` etc. The rules were chosen on clean records; an
ambulatory recording is rarely clean for long. ``ma:12@250`` resamples the record to 250 Hz first (a
patch's rate) and adds the noise there (rows ``ds1@250+ma12``): the synthetic muscle noise spans 10-150
Hz, capped below the Nyquist frequency, so at a lower rate more of the same noise power falls in the QRS
band.

The lead ``ecgdesk analyze`` picks (``--chosen-lead``): rows ``ds1 chosen-lead`` etc. run the records as
users do, without ``--lead``: the analysis picks the lead with the most analyzable epochs, then the
steepest QRS against its noise (``pipeline.choose_lead``; MLII for most MIT-BIH records, either lead for
SVDB). The S model and the rules were trained and chosen on lead 0.

Writes bench/results/classes.csv.
"""

from __future__ import annotations

import argparse
import csv
import time
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import wfdb
from scipy import signal

from ecgdesk.analysis.beats import BeatFeatures
from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS, match_beats
from ecgdesk.analysis.noise_stress import add_noise, make_noise
from ecgdesk.analysis.pipeline import BeatEngine, analyze, default_engine
from ecgdesk.records import Recording, open_recording

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203",
       "205", "207", "208", "209", "215", "220", "223", "230")


#: Resampled signals are rounded to this step (mV): MIT-BIH's ADC resolution (200 units per mV).
ADC_STEP_MV = 0.005


def at_rate(recording: Recording, fs: int) -> Recording:
    """The recording resampled to ``fs`` (every lead, polyphase filter), rounded to :data:`ADC_STEP_MV`."""
    ratio = Fraction(fs) / Fraction(recording.fs).limit_denominator(1000)
    data = signal.resample_poly(recording.read().astype(np.float64), ratio.numerator, ratio.denominator,
                                axis=0)
    return Recording.from_array(np.round(data / ADC_STEP_MV) * ADC_STEP_MV, fs, recording.lead_names)


def through_front_end(recording: Recording, band: tuple[float, float]) -> Recording:
    """The recording as a recorder with the monitoring ``band`` (Hz) would store it (module docstring)."""
    fs = recording.fs
    high = signal.butter(1, band[0], "high", fs=fs)
    low = signal.butter(2, band[1], "low", fs=fs, output="sos")
    data = signal.sosfilt(low, signal.lfilter(*high, recording.read().astype(np.float64), axis=0), axis=0)
    return Recording.from_array(np.round(data / ADC_STEP_MV) * ADC_STEP_MV, fs, recording.lead_names)


def with_noise(recording: Recording, kind: str, snr_db: float, beats: np.ndarray, seed: int) -> Recording:
    """The recording with ``kind`` noise at ``snr_db`` on every lead (module docstring)."""
    data = recording.read().astype(np.float64)
    beats = beats[(beats >= 0) & (beats < data.shape[0])]
    for lead in range(data.shape[1]):
        noise = make_noise(kind, data.shape[0], recording.fs, seed=seed + lead)
        data[:, lead] = add_noise(data[:, lead], recording.fs, beats, noise, snr_db)
    return Recording.from_array(np.round(data / ADC_STEP_MV) * ADC_STEP_MV, recording.fs,
                                recording.lead_names)


def run_record(base: str, fs: int | None = None, band: tuple[float, float] | None = None,
               noise: tuple[str, float] | None = None, lead: int | None = 0
               ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(reference classes, our label per reference beat or '-', labels changed without the middle beat,
    V calls on detections that match no reference beat), at the record's own rate or resampled to ``fs``,
    as recorded, through the front end ``band`` or with ``noise`` (kind, SNR dB), on ``lead`` (None: the
    lead ``analyze`` picks)."""
    engine = default_engine()
    captured: dict[str, Any] = {}

    def classify(features: BeatFeatures, samples: np.ndarray, fs: float) -> Any:
        captured.update(features=features, samples=np.array(samples), fs=fs)
        return engine.classify(features, samples, fs)

    recording = open_recording(base + ".hea")
    if fs is not None:
        recording = at_rate(recording, fs)
    if band is not None:
        recording = through_front_end(recording, band)
    ann = wfdb.rdann(base, "atr")
    keep = np.array([s in BEAT_SYMBOLS for s in ann.symbol])
    truth = np.array([AAMI_CLASS[s] for s in np.array(ann.symbol)[keep]])
    reference = np.round(ann.sample[keep] * (recording.fs / float(ann.fs))).astype(np.int64)
    if noise is not None:
        recording = with_noise(recording, noise[0], noise[1], reference, zlib.crc32(Path(base).name.encode()))
    table = analyze(recording, lead=lead,
                    engine=BeatEngine(engine.detect, engine.features, engine.concat, classify)).beats
    match = match_beats(reference, table.samples, recording.fs)
    ours = np.where(match.pairs >= 0, np.asarray(table.labels)[np.maximum(match.pairs, 0)], "-")
    matched = np.zeros(table.samples.size, dtype=bool)
    matched[match.pairs[match.pairs >= 0]] = True
    v_no_beat = int(np.sum((np.asarray(table.labels) == "V") & ~matched))
    changed = 0
    if captured:
        features, samples, fs = captured["features"], captured["samples"], captured["fs"]
        whole = np.asarray(engine.classify(features, samples, fs).labels)
        rest = np.arange(samples.size) != samples.size // 2
        part = engine.classify(BeatFeatures(features.waveforms[rest], features.width_ms[rest]),
                               samples[rest], fs)
        changed = int(np.sum(np.asarray(part.labels) != whole[rest]))
    return truth, ours, changed, v_no_beat


def scores(truth: np.ndarray, ours: np.ndarray) -> dict[str, object]:
    row: dict[str, object] = {}
    for cls in "NSVF":
        called = ours == cls
        if cls == "V":
            called &= truth != "F"
        tp = int(np.sum((truth == cls) & (ours == cls)))
        n = int(np.sum(truth == cls))
        row[f"n_{cls}"] = n
        row[f"{cls}_se"] = round(100 * tp / n, 2) if n else float("nan")
        row[f"{cls}_ppv"] = round(100 * tp / int(called.sum()), 2) if called.any() else float("nan")
        row[f"{cls}_calls"] = int(np.sum(ours == cls))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rates", default="",
                        help="also resample every record to these rates (Hz, comma-separated)")
    parser.add_argument("--front-ends", default="",
                        help="also through these recorder bands (LOW-HIGH Hz, comma-separated, e.g. 0.5-40)")
    parser.add_argument("--noise", default="",
                        help="also with this noise added (KIND:SNR_DB[@RATE], comma-separated, e.g. "
                             "ma:12,em:12,ma:12@250: the last resampled to 250 Hz first)")
    parser.add_argument("--sets", default="ds1,svdb", help="which record sets (ds1, svdb)")
    parser.add_argument("--chosen-lead", action="store_true",
                        help="also on the lead `ecgdesk analyze` picks (rows 'ds1 chosen-lead' etc.)")
    args = parser.parse_args()
    sets = {"ds1": [args.data / "mitdb" / r for r in DS1],
            "svdb": sorted(p.with_suffix("") for p in (args.data / "svdb").glob("*.hea"))}
    wanted = {s.strip() for s in args.sets.split(",") if s.strip()}
    sets = {name: bases for name, bases in sets.items() if name in wanted}
    Run = tuple[str, list[Path], int | None, tuple[float, float] | None, tuple[str, float] | None, int | None]
    runs: list[Run] = [(name, bases, None, None, None, 0) for name, bases in sets.items()]
    if args.chosen_lead:
        runs += [(f"{name} chosen-lead", bases, None, None, None, None) for name, bases in sets.items()]
    for hz in (int(r) for r in args.rates.split(",") if r.strip()):
        runs += [(f"{name}@{hz}", bases, hz, None, None, 0) for name, bases in sets.items()]
    for text in (b.strip() for b in args.front_ends.split(",") if b.strip()):
        low, high = (float(edge) for edge in text.split("-"))
        runs += [(f"{name}~{text}", bases, None, (low, high), None, 0) for name, bases in sets.items()]
    for text in (n.strip() for n in args.noise.split(",") if n.strip()):
        noise, _, at = text.partition("@")  # KIND:SNR or KIND:SNR@RATE
        kind, snr = noise.split(":")
        noisy_rate = int(at) if at else None
        runs += [(f"{name}{'@' + at if at else ''}+{kind}{snr}", bases, noisy_rate, None,
                  (kind, float(snr)), 0) for name, bases in sets.items()]
    rows = []
    for name, bases, rate, band, noise, lead in runs:
        t0 = time.perf_counter()
        truths, ours, changed, v_no_beat = [], [], 0, 0
        for base in bases:
            truth, labels, moved, extra = run_record(str(base), rate, band, noise, lead)
            truths.append(truth)
            ours.append(labels)
            changed += moved
            v_no_beat += extra
            print(f"  {name} {base.name}: {labels.size} reference beats, labels changed without the middle "
                  f"beat {moved}", flush=True)
        truth_all, ours_all = np.concatenate(truths), np.concatenate(ours)
        row: dict[str, object] = {"data": name, "records": len(bases)}
        row.update(scores(truth_all, ours_all))
        row["labels_changed_one_beat_removed"] = changed
        # V +P counting the V calls on false detections too (the per-class figures above, as EC57's class
        # statistics, only see detections that match a reference beat)
        row["V_calls_no_beat"] = v_no_beat
        v_tp = int(np.sum((truth_all == "V") & (ours_all == "V")))
        v_called = int(np.sum((ours_all == "V") & (truth_all != "F")))
        row["V_ppv_with_false_beats"] = round(100 * v_tp / max(1, v_called + v_no_beat), 2)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{c} {row[f'{c}_se']} / {row[f'{c}_ppv']} ({row[f'n_{c}']} beats, "
                                      f"{row[f'{c}_calls']} calls)" for c in "NSVF")
              + f"; V calls on false beats {v_no_beat} (V +P with them {row['V_ppv_with_false_beats']})"
              + f"; labels changed, one beat removed: {changed}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "classes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {RESULTS / 'classes.csv'}")


if __name__ == "__main__":
    main()
