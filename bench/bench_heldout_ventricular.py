"""Held-out check: ``ecgdesk strips`` on VT, flutter and VF strips of records the project does not have.

    .venv/bin/python bench/bench_heldout_ventricular.py DIR [--ann atr] [--leads 0,1] [--seconds 10]
        [--through 5] [--out bench/results/heldout_ventricular.csv] [--details FILE.csv]

``DIR`` (searched recursively) holds WFDB records of either kind:

- **with rhythm annotations**, a ``<record>.<ann>`` beside the header (the MIT-BIH Malignant Ventricular
  Ectopy Database, Creighton, MIT-BIH ...): the strips are cut as ``bench_ventricular_strips.py`` cuts the
  shared records, with its ``stretches``: one strip per reference VF (``(VF``, ``(VFIB``, Creighton's
  ``[`` .. ``]``), ventricular flutter (``(VFL``) or VT (``(VT``) stretch of at least 3 s, from 1 s after
  its onset (from 2 s before it when the stretch is shorter than the strip); one strip from 2 s before
  each shorter VT run, in a group of its own (``vt < 3 s``); with ``--through 5``, also a strip every
  5 s inside each stretch at least a strip long (``vf every 5 s`` ...); and, as the ``other`` group,
  every 5th minute whose strip meets no ventricular stretch (the rhythm in force at its start goes to
  ``--details``). Groups carry the record's folder name: ``vf (vfdb)``, ``other (vfdb)``;
- **PhysioNet/CinC 2015 alarm records** (no annotation file; the header comments name the alarm, e.g.
  ``#Ventricular_Tachycardia``, and ``#True alarm`` or ``#False alarm``): the 10 s before the alarm,
  290-300 s (the challenge puts every alarm at 5 min, its event within the 10 s before it), in groups
  ``c2015 Ventricular_Tachycardia true`` etc. A true VT alarm needs only a run of 5 ventricular beats,
  so that group is closer to ``vt < 3 s`` than to sustained VT.

Each strip is written as a one-lead WFDB record (lead 0 as the shared bench, ``--leads 0,1`` adds a run
on the second lead) and the ``ecgdesk strips`` command runs on the folders, as a user would. Prints per
lead and group how many strips are called ``V`` (ventricular arrhythmia) and the other labels, then the
ventricular strips not called ``V`` and the ``V`` calls outside ventricular stretches; writes
``--out``. Nothing is tuned here: ``docs/strips.md`` gives what this printed on held-out records.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_strips import run, stretches, write_strip

ROOT = Path(__file__).resolve().parents[1]
#: Rhythm notes some databases use for a rhythm ``stretches`` knows under another name.
ALIASES = {"(VFIB": "(VF"}
#: Header comments of a PhysioNet/CinC 2015 alarm record: the alarm and whether it was true.
ALARM_KINDS = ("Ventricular_Tachycardia", "Ventricular_Flutter_Fib", "Tachycardia", "Bradycardia", "Asystole")
ALARM_AT_S = 300.0
#: Signals of the 2015 records that are not ECG leads.
NOT_ECG = {"PLETH", "ABP", "RESP"}
OTHER_EVERY_S = 300.0


@dataclass(frozen=True)
class Strip:
    """One cut strip: where it came from and the group it is counted in."""

    name: str
    group: str
    record: str
    start_s: float
    rhythm: str
    ventricular: bool


def rhythm_notes(ann: wfdb.Annotation) -> list[str]:
    """The annotation's aux notes, NUL-stripped, with ``ALIASES`` applied."""
    notes = [(aux or "").strip("\x00").strip() for aux in ann.aux_note]
    return [ALIASES.get(note, note) for note in notes]


def rhythm_at(ann: wfdb.Annotation, notes: list[str], at: int) -> str:
    """The rhythm note in force at sample ``at`` (the last ``(`` note at or before it)."""
    rhythm = ""
    for sample, note in zip(ann.sample, notes, strict=True):
        if sample > at:
            break
        if note.startswith("("):
            rhythm = note
    return rhythm


def cut_annotated(header: Path, base: Path, ann_ext: str, lead: int, seconds: float, through: float,
                  positive: Path, negative: Path) -> list[Strip]:
    """The strips of one record with rhythm annotations (see the module docstring)."""
    rec = wfdb.rdrecord(str(header.with_suffix("")), channels=[lead])
    fs = float(rec.fs)
    x = rec.p_signal[:, 0]
    ann = wfdb.rdann(str(header.with_suffix("")), ann_ext)
    notes = rhythm_notes(ann)
    ann.aux_note = notes
    folder = header.parent.name
    record = str(header.relative_to(base).with_suffix(""))
    prefix = record.replace("/", "_")
    length = int(seconds * fs)
    found = stretches(ann, x.size)
    strips: list[Strip] = []
    inside = np.zeros(x.size, dtype=bool)
    for kind, a, b in found:
        inside[a:b] = True
        name = f"{prefix}_{kind}_{a}"
        if (b - a) / fs < 3.0:
            if kind == "vt":
                start = max(0, a - int(2 * fs))
                write_strip(positive, name, x[start:start + length], fs)
                strips.append(Strip(name, f"vt < 3 s ({folder})", record, start / fs, f"({kind.upper()}",
                                    True))
            continue
        start = a + int(fs) if (b - a) > length + int(fs) else max(0, a - int(2 * fs))
        write_strip(positive, name, x[start:start + length], fs)
        strips.append(Strip(name, f"{kind} ({folder})", record, start / fs, f"({kind.upper()}", True))
        for at in range(a, b - length + 1, int(through * fs)) if through > 0 else ():
            every = f"{name}_at_{at}"
            write_strip(positive, every, x[at:at + length], fs)
            strips.append(Strip(every, f"{kind} every {through:g} s ({folder})", record, at / fs,
                                f"({kind.upper()}", True))
    for start in range(0, x.size - length, int(OTHER_EVERY_S * fs)):
        if not inside[start:start + length].any():
            name = f"{prefix}_{start}"
            write_strip(negative, name, x[start:start + length], fs)
            strips.append(Strip(name, f"other ({folder})", record, start / fs, rhythm_at(ann, notes, start),
                                False))
    return strips


def alarm_of(comments: list[str]) -> tuple[str, bool] | None:
    """(alarm kind, true?) from a PhysioNet/CinC 2015 header's comments, or None."""
    words = [c.strip() for c in comments]
    kind = next((w for w in words if w in ALARM_KINDS), None)
    truth = {"True alarm": True, "False alarm": False}
    verdict = next((truth[w] for w in words if w in truth), None)
    return None if kind is None or verdict is None else (kind, verdict)


def cut_alarm(header: Path, base: Path, lead: int, seconds: float, alarm: tuple[str, bool],
              positive: Path, negative: Path) -> list[Strip]:
    """The strip before a 2015 alarm (empty when the lead is not an ECG lead or the record too short)."""
    info = wfdb.rdheader(str(header.with_suffix("")))
    if lead >= info.n_sig or info.sig_name[lead] in NOT_ECG:
        return []
    rec = wfdb.rdrecord(str(header.with_suffix("")), channels=[lead])
    fs = float(rec.fs)
    stop = int(ALARM_AT_S * fs)
    start = stop - int(seconds * fs)
    if rec.sig_len < stop:
        return []
    kind, true = alarm
    record = str(header.relative_to(base).with_suffix(""))
    name = f"{record.replace('/', '_')}_alarm"
    ventricular = kind.startswith("Ventricular") and true
    write_strip(positive if ventricular else negative, name, rec.p_signal[start:stop, 0], fs)
    return [Strip(name, f"c2015 {kind} {'true' if true else 'false'}", record, start / fs, kind, ventricular)]


def find_records(folder: Path, ann_ext: str) -> tuple[list[Path], list[tuple[Path, tuple[str, bool]]]]:
    """Headers with a rhythm annotation file, and 2015 alarm headers (with their alarm)."""
    annotated, alarms = [], []
    for header in sorted(folder.rglob("*.hea")):
        if header.with_suffix(f".{ann_ext}").is_file():
            annotated.append(header)
            continue
        try:
            alarm = alarm_of(wfdb.rdheader(str(header.with_suffix(""))).comments)
        except (ValueError, OSError):
            continue
        if alarm is not None:
            alarms.append((header, alarm))
    return annotated, alarms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, metavar="DIR",
                        help="folder of WFDB records (searched recursively)")
    parser.add_argument("--ann", default="atr", help="extension of the rhythm annotation files (default atr)")
    parser.add_argument("--leads", default="0", help="lead indices to run, comma separated (default 0)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--through", type=float, default=0.0,
                        help="also cut a strip every THROUGH seconds inside each VF / flutter / VT stretch")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "heldout_ventricular.csv")
    parser.add_argument("--details", type=Path, help="also write one row per strip (group, record, start, "
                        "rhythm in force, label, reason) to this CSV")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder}: not a folder")
    try:
        leads = [int(v) for v in args.leads.split(",")]
    except ValueError:
        parser.error(f"--leads {args.leads!r}: lead indices, comma separated (e.g. 0,1)")
    if args.seconds < 5 or args.through < 0:
        parser.error("--seconds must be at least 5 (shorter strips are '~' by rule) and --through >= 0")
    annotated, alarms = find_records(args.folder, args.ann)
    if not annotated and not alarms:
        parser.error(f"{args.folder}: no WFDB record with a .{args.ann} rhythm annotation file and no "
                     "PhysioNet/CinC 2015 alarm header ('#Ventricular_Tachycardia' ... '#True alarm')")
    tally: dict[tuple[int, str], Counter[str]] = {}
    listed: list[str] = []
    details: list[dict[str, str]] = []
    for lead in leads:
        with tempfile.TemporaryDirectory() as tmp:
            positive, negative = Path(tmp) / "ventricular", Path(tmp) / "other"
            positive.mkdir()
            negative.mkdir()
            strips: list[Strip] = []
            skipped = 0
            for header in annotated:
                if lead >= wfdb.rdheader(str(header.with_suffix(""))).n_sig:
                    skipped += 1
                    continue
                strips += cut_annotated(header, args.folder, args.ann, lead, args.seconds, args.through,
                                        positive, negative)
            for header, alarm in alarms:
                cut = cut_alarm(header, args.folder, lead, args.seconds, alarm, positive, negative)
                skipped += not cut
                strips += cut
            if not any(s.ventricular for s in strips):
                parser.error(f"{args.folder}: no reference VT / flutter / VF stretch (aux '(VT', '(VFL', "
                             f"'(VF', '[' .. ']') in any .{args.ann} and no true VT/VF alarm, lead {lead}")
            if skipped:
                print(f"lead {lead}: {skipped} records without that lead (or not an ECG lead there) left out")
            by_name = {s.name: s for s in strips}
            for folder in (positive, negative):
                if not any(folder.glob("*.hea")):
                    continue
                for path, (label, reason) in run(folder, Path(tmp) / f"{folder.name}.csv").items():
                    strip = by_name[Path(path).stem]
                    tally.setdefault((lead, strip.group), Counter())[label] += 1
                    details.append({"lead": str(lead), "strip": strip.name, "group": strip.group,
                                    "record": strip.record, "start_s": f"{strip.start_s:.3f}",
                                    "rhythm": strip.rhythm, "label": label, "reason": reason})
                    missed = strip.ventricular and label != "V" and " every " not in strip.group
                    if missed or (not strip.ventricular and label == "V"):
                        listed.append(f"lead {lead} {strip.group}: {strip.record} at {strip.start_s:.1f} s "
                                      f"({strip.rhythm or 'no rhythm note'}): {label} ({reason})")
    rows = []
    for (lead, group), counts in sorted(tally.items()):
        total = sum(counts.values())
        rows.append({"lead": lead, "group": group, "strips": total, "called_V": counts["V"],
                     "called_V_pct": round(100 * counts["V"] / total, 2),
                     "labels": " ".join(f"{k}:{v}" for k, v in sorted(counts.items()))})
        print(f"lead {lead} {group:40} {total:>5} strips, ventricular arrhythmia (V) {counts['V']:>4} "
              f"({rows[-1]['called_V_pct']} %); labels {rows[-1]['labels']}")
    print("\nventricular strips not called V, and V calls outside ventricular stretches:\n  "
          + "\n  ".join(listed) if listed else "\nevery ventricular strip called V, no other strip")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}")
    if args.details:
        args.details.parent.mkdir(parents=True, exist_ok=True)
        with args.details.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(details[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(details)


if __name__ == "__main__":
    main()
