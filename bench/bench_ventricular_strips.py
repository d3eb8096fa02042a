"""``ecgdesk strips`` on ventricular arrhythmia strips (VT, flutter, VF) and on strips without one.

    .venv/bin/python bench/bench_ventricular_strips.py [--data ../shared/data] [--seconds 10] [--through 5]

Strips of ``--seconds`` are cut (WFDB, lead 0) from the shared records into a temporary folder and the
``ecgdesk strips`` command runs on them, as a user would:

- **ventricular**: one strip from each reference stretch of VF, ventricular flutter (the Creighton
  database's ``[`` .. ``]`` and ``(VF``, MIT-BIH 207's ``(VFL``) and VT (``(VT`` in the shared MIT-BIH and
  Creighton records) at least 3 s long, starting 1 s after its onset (VT runs shorter than the strip
  start 2 s before it); and one strip from 2 s before each shorter VT run, in groups of their own
  (``vt < 3 s``: runs of a few beats; no rule was chosen on them); with ``--through 5``, also a strip
  every 5 s inside each stretch at least 10 s long (groups ``vf every 5 s`` etc.: a recorder's strip may
  start anywhere in an episode, next to a shock's or a compression's artefact);
- **vt at end** (issue 18): for each VT stretch, the 10 s strip ENDING 2, 3 and 4 s after its onset (the
  run's start at 6-8 s, sinus or other beats before it), as an event recorder stores a strip around its
  trigger; groups ``vt at end K s`` for runs of 4 or more reference beats and ``vt < 4 beats at end K s``
  for the shorter ones (triplets), per database;
- **other**: every 5th minute of the shared MIT-BIH and SVDB records where the reference marks no VT,
  flutter or VF within the strip (the paced records 102, 104, 107, 217 and the bundle-branch-block
  records 109, 118, 124, 207, and DS2 ones where present, in groups of their own: wide complexes without
  VT), every lead of the shared LUDB records (10 s, 12 leads; grouped by the wide-QRS labels of
  ``ludb.csv``: bundle-branch block, intraventricular delay, pacing, or none; "tachycardia" when its
  rhythm says so), and all CinC 2017 strips (their labels N, A, O, ~; no VT in that set is labelled as
  such, so a ``V`` call there is at best unverifiable).

Prints, per group, how many strips are called ``V`` (ventricular arrhythmia) and the other labels; writes
bench/results/ventricular_strips.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
VENTRICULAR_RHYTHMS = {"(VF": "vf", "(VFL": "vfl", "(VT": "vt"}
#: The "vt at end" strips end this many seconds after the VT run's onset.
AT_END_S = (2.0, 3.0, 4.0)
#: Reference beat symbols (WFDB), to count a VT run's beats.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
PACED = {"102", "104", "107", "217"}
BUNDLE_BRANCH_BLOCK = {"109", "111", "118", "124", "207", "212", "214", "231"}
#: LUDB ``ludb.csv`` words that mean a wide QRS complex (complete bundle-branch block, intraventricular
#: conduction delay, a pacemaker).
LUDB_WIDE = ("complete left", "complete right", "intravintricular", "intraventricular", "pacing", "pacemaker",
             "p-synchrony")


def stretches(ann: wfdb.Annotation, n: int) -> list[tuple[str, int, int]]:
    """(kind, start, stop) of each reference VT / VFL / VF stretch."""
    out: list[tuple[str, int, int]] = []
    kind: str | None = None
    since = 0
    for at, symbol, aux in zip(ann.sample, ann.symbol, ann.aux_note, strict=True):
        rhythm = (aux or "").strip("\x00")
        if symbol == "[" or (symbol == "+" and rhythm in VENTRICULAR_RHYTHMS):
            if kind is not None and symbol == "+":
                out.append((kind, since, int(at)))
            kind, since = ("vf" if symbol == "[" else VENTRICULAR_RHYTHMS[rhythm]), int(at)
        elif kind is not None and (symbol == "]" or symbol == "+"):
            out.append((kind, since, int(at)))
            kind = None
    if kind is not None:
        out.append((kind, since, n))
    return out


def write_strip(folder: Path, name: str, x: np.ndarray, fs: float) -> None:
    x = np.nan_to_num(np.asarray(x, dtype=np.float64))[:, None]
    wfdb.wrsamp(name, fs=fs, units=["mV"], sig_name=["ecg"], p_signal=x, fmt=["16"], write_dir=str(folder))


def cut(data: Path, seconds: float, positive: Path, negative: Path, short_vt: bool = False,
        through: float = 0.0, at_end: bool = False) -> dict[str, str]:
    """Write the strips; returns strip name -> group (the VT runs shorter than 3 s only with ``short_vt``;
    with ``through``, also a strip every ``through`` seconds inside each stretch, in groups of their own;
    with ``at_end``, the strips ending :data:`AT_END_S` after each VT onset)."""
    groups: dict[str, str] = {}
    headers = sorted((data / "cudb").glob("*.hea")) + sorted((data / "mitdb").glob("*.hea"))
    for header in headers + sorted((data / "svdb").glob("*.hea")):
        base = str(header.with_suffix(""))
        rec = wfdb.rdrecord(base, channels=[0])
        fs = float(rec.fs)
        x = rec.p_signal[:, 0]
        ann = wfdb.rdann(base, "atr")
        length = int(seconds * fs)
        found = stretches(ann, x.size)
        bad = np.zeros(x.size, dtype=bool)
        for kind, a, b in found:
            bad[a:b] = True
            if at_end and kind == "vt":
                groups.update(cut_at_end(positive, f"{header.parent.name}_{header.stem}", x, fs, ann, a, b,
                                         length))
            if (b - a) / fs < 3.0:
                if short_vt and kind == "vt":
                    name = f"{header.parent.name}_{header.stem}_{kind}_{a}"
                    start = max(0, a - int(2 * fs))
                    write_strip(positive, name, x[start:start + length], fs)
                    groups[name] = f"vt < 3 s ({header.parent.name})"
                continue
            start = a + int(fs) if (b - a) > length + int(fs) else max(0, a - int(2 * fs))
            name = f"{header.parent.name}_{header.stem}_{kind}_{a}"
            write_strip(positive, name, x[start:start + length], fs)
            groups[name] = f"{kind} ({header.parent.name})"
            for inside in range(a, b - length + 1, int(through * fs)) if through > 0 else ():
                name = f"{header.parent.name}_{header.stem}_{kind}_{a}_at_{inside}"
                write_strip(positive, name, x[inside:inside + length], fs)
                groups[name] = f"{kind} every {through:g} s ({header.parent.name})"
        if header.parent.name == "cudb":
            continue
        mitdb = header.parent.name == "mitdb"
        kind = ("paced" if mitdb and header.stem in PACED
                else "bundle-branch block" if mitdb and header.stem in BUNDLE_BRANCH_BLOCK else "no VT/VF")
        for start in range(0, x.size - length, int(300 * fs)):
            if not bad[start:start + length].any():
                name = f"{header.parent.name}_{header.stem}_{start}"
                write_strip(negative, name, x[start:start + length], fs)
                groups[name] = f"{kind} ({header.parent.name})"
    groups.update(cut_ludb(data, negative))
    return groups


def cut_at_end(folder: Path, record: str, x: np.ndarray, fs: float, ann: wfdb.Annotation, a: int, b: int,
               length: int) -> dict[str, str]:
    """The strips of ``length`` samples ending :data:`AT_END_S` after the VT onset at sample ``a`` (the
    stretch ends at ``b``); none where the strip would begin before the record."""
    beats = int(sum(1 for at, symbol in zip(ann.sample, ann.symbol, strict=True)
                    if a <= at < b and symbol in BEAT_SYMBOLS))
    database = record.split("_")[0]
    kind = "vt at end" if beats >= 4 else "vt < 4 beats at end"
    groups: dict[str, str] = {}
    for after in AT_END_S:
        stop = a + int(after * fs)
        if stop - length < 0 or stop > x.size:
            continue
        name = f"{record}_vt_{a}_end_{after:g}"
        write_strip(folder, name, x[stop - length:stop], fs)
        groups[name] = f"{kind} {after:g} s ({database})"
    return groups


def strip_signals(data: Path, short_vt: bool = False,
                  at_end: bool = False) -> Iterator[tuple[str, str, np.ndarray, float]]:
    """``(name, group, first lead, fs)`` of every cut strip, then of every CinC strip (group ``cinc2017
    LABEL``): the strips the leave-one-record-out benches judge their rules on."""
    with tempfile.TemporaryDirectory() as tmp:
        positive, negative = Path(tmp) / "ventricular", Path(tmp) / "other"
        positive.mkdir()
        negative.mkdir()
        groups = cut(data, 10.0, positive, negative, short_vt=short_vt, at_end=at_end)
        for folder in (positive, negative):
            for header in sorted(folder.glob("*.hea")):
                rec = wfdb.rdrecord(str(header.with_suffix("")), channels=[0])
                yield header.stem, groups[header.stem], rec.p_signal[:, 0], float(rec.fs)
    with open(data / "cinc2017" / "REFERENCE.csv") as handle:
        labels = {row[0]: row[1] for row in csv.reader(handle) if row}
    for header in sorted((data / "cinc2017").glob("*.hea")):
        rec = wfdb.rdrecord(str(header.with_suffix("")), channels=[0])
        yield f"cinc_{header.stem}", f"cinc2017 {labels[header.stem]}", rec.p_signal[:, 0], float(rec.fs)


def cut_ludb(data: Path, negative: Path) -> dict[str, str]:
    """Every lead of every shared LUDB record as a 10 s strip (no LUDB record holds VT)."""
    table = data / "ludb" / "ludb.csv"
    if not table.exists():
        return {}
    with open(table, newline="") as handle:
        rows = {row["ID"]: row for row in csv.DictReader(handle)}
    groups: dict[str, str] = {}
    for header in sorted((data / "ludb").glob("*.hea"), key=lambda h: int(h.stem)):
        row = rows.get(header.stem, {})
        words = " ".join(row.get(k, "") for k in ("Conduction abnormalities", "Cardiac pacing")).lower()
        words = words.replace("incomplete", "")
        group = "ludb wide QRS (BBB, IVCD, paced)" if any(w in words for w in LUDB_WIDE) else "ludb other"
        if "tachycardia" in row.get("Rhythms", "").lower():
            group += " tachycardia"
        rec = wfdb.rdrecord(str(header.with_suffix("")))
        for j, lead in enumerate(rec.sig_name):
            name = f"ludb_{header.stem}_{lead}"
            write_strip(negative, name, rec.p_signal[:, j], float(rec.fs))
            groups[name] = group
    return groups


def run(folder: Path, out: Path) -> dict[str, tuple[str, str]]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli(["strips", str(folder), "--out", str(out)])
    if code != 0:
        raise SystemExit(f"ecgdesk strips {folder} exited {code}")
    with open(out) as handle:
        return {row["record"]: (row["label"], row["reason"]) for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-cinc", action="store_true", help="skip the CinC 2017 strips")
    parser.add_argument("--through", type=float, default=0.0,
                        help="also cut a strip every THROUGH seconds inside each VF / flutter / VT stretch "
                             "(groups 'vf every 5 s' etc.: a strip a recorder sends may start anywhere)")
    args = parser.parse_args()
    tally: dict[str, Counter[str]] = {}
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        positive, negative = Path(tmp) / "ventricular", Path(tmp) / "other"
        positive.mkdir()
        negative.mkdir()
        groups = cut(args.data, args.seconds, positive, negative, short_vt=True, through=args.through,
                     at_end=True)
        for folder in (positive, negative):
            for record, (label, reason) in run(folder, Path(tmp) / f"{folder.name}.csv").items():
                group = groups[Path(record).stem]
                tally.setdefault(group, Counter())[label] += 1
                if folder is positive and label != "V" and " every " not in group and " at end " not in group:
                    missed.append(f"{record}: {label} ({reason})")
    if not args.no_cinc:
        with tempfile.TemporaryDirectory() as tmp:
            with open(args.data / "cinc2017" / "REFERENCE.csv") as handle:
                labels = {row[0]: row[1] for row in csv.reader(handle) if row}
            for record, (label, _) in run(args.data / "cinc2017", Path(tmp) / "cinc.csv").items():
                tally.setdefault(f"cinc2017 {labels[Path(record).stem]}", Counter())[label] += 1
    rows = []
    for group, counts in sorted(tally.items()):
        total = sum(counts.values())
        rows.append({"group": group, "strips": total, "called_V": counts["V"],
                     "called_V_pct": round(100 * counts["V"] / total, 2),
                     "labels": " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))})
        print(f"{group:26} {total:>5} strips, ventricular arrhythmia (V) {counts['V']:>4} "
              f"({rows[-1]['called_V_pct']} %); labels {rows[-1]['labels']}")
    print("\nventricular strips not called V:\n  " + "\n  ".join(missed) if missed else "\nall called V")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "ventricular_strips.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {RESULTS / 'ventricular_strips.csv'}")


if __name__ == "__main__":
    main()
