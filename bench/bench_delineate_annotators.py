"""The QT Database's two cardiologists against each other, and ``ecgdesk delineate`` against each of them.

    .venv/bin/python bench/bench_delineate_annotators.py

Six of the shared QT Database records carry a second cardiologist's marks (``.q2c``). On each record where
both marked at least 30 beats and the second did not copy the first (on sel100 every second QRS onset and
T offset equals the first's, sample for sample), this compares, boundary by boundary and with the statistic
of Martinez et al. (2004) that the targets use (each record's mean and SD of the difference in ms, averaged
over the records): the second cardiologist against the first, ``ecgdesk delineate``'s fused marks (what
``bench_delineate.py`` scores) against the first, and against the second. The second cardiologist's
spread against the first is what two experts reading the same beats disagree by: an SD below it says
nothing more about accuracy. Beats are matched as in ``bench_delineate.py`` (QRS peak within 150 ms).

Writes bench/results/delineate_annotators.txt.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from ecgdesk.analysis.waves import ALGORITHM_VERSION, FUSED, write_waves_csv
from ecgdesk.records import open_recording

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_delineate import read_beats
from qtdb_eval import BOUNDARIES, MARTINEZ, QTDB, Tally, reference, split

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MIN_BEATS = 30


def _copied(first: Tally, record: str, boundary: str) -> bool:
    errors = first.errors[boundary].get(record, [])
    return len(errors) > 0 and not np.any(errors)


def main() -> int:
    if not QTDB.exists():
        print(f"needs {QTDB}", file=sys.stderr)
        return 2
    names = sorted(p.stem for p in QTDB.glob("*.q2c"))
    _, held = split(sorted(p.stem for p in QTDB.glob("*.q1c")))
    second_vs_first, ours_vs_first, ours_vs_second = Tally(), Tally(), Tally()
    with tempfile.TemporaryDirectory() as tmp:
        for record in names:
            recording = open_recording(QTDB / f"{record}.hea")
            first, second = reference(record, "q1c"), reference(record, "q2c")
            second_vs_first.add(record, first, [{"QRS_peak": b.qrs_peak, **b.marks} for b in second],
                                recording.fs)
            write_waves_csv(recording, Path(tmp) / "waves.csv")
            ours = read_beats(Path(tmp) / "waves.csv").get(FUSED, [])
            ours_vs_first.add(record, first, ours, recording.fs)
            ours_vs_second.add(record, second, ours, recording.fs)
    anchor = ", ".join(f"{b} {m:+.1f} / {s:.1f}" for b, (m, s) in MARTINEZ.items())
    lines = [f"QT Database, records with a second cardiologist's marks (.q2c); ecgdesk {ALGORITHM_VERSION}, "
             "fused marks",
             "per boundary: mean / SD over records (Martinez et al. 2004's statistic), ms; records used: "
             f"both cardiologists marked >= {MIN_BEATS} beats, the second's marks not the first's copied",
             f"Martinez et al. 2004: {anchor}"]
    for boundary in BOUNDARIES:
        used = sorted(r for r in names
                      if len(second_vs_first.errors[boundary].get(r, [])) >= MIN_BEATS
                      and not _copied(second_vs_first, r, boundary))
        if not used:
            lines.append(f"{boundary:8s} no record with both cardiologists' marks")
            continue
        cells = []
        for label, tally in (("2nd - 1st", second_vs_first), ("ours - 1st", ours_vs_first),
                             ("ours - 2nd", ours_vs_second)):
            s = tally.stats(boundary, set(used))
            cells.append(f"{label} {s['rec_mean']:6.1f} / {s['rec_sd']:4.1f}")
        tags = ", ".join(f"{r}{' (held out)' if r in held else ''}" for r in used)
        lines.append(f"{boundary:8s} " + "   ".join(cells) + f"   [{tags}]")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "delineate_annotators.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
