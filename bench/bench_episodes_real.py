"""``ecgdesk analyze`` episodes on the shared real recordings against their reference rhythm annotations.

    .venv/bin/python bench/bench_episodes_real.py [--data ../shared/data] [--list N]

`bench_events.py` scores the episodes on simulated recordings, where the truth is exact. Here the whole
analysis (the lead it chooses, as users run it) reads every shared MIT-BIH and SVDB record, and its AF,
flutter, VT, VF and SVT episodes are compared with the rhythm stretches the reference annotations mark
(``(AFIB``, ``(AFL``, ``(VT``, ``(VFL`` / ``(VF``, ``(SVTA``):

- **sensitivity**: reference stretches overlapped by an episode of an accepted type (AF or flutter for AF
  and flutter; VT or VF for VT and VF; SVT for SVTA). AF is reported for the stretches of 30 s or more
  too, the shortest AF episode the analysis reports (``af_min_s``).
- **positive predictivity**: episodes overlapping (within 1 s) a reference stretch their type is right
  for, or a run of 3 or more beats the reference labels S (for SVT) or V (for VT): SVDB marks most of its
  SVT runs by the beat labels alone. An SVT episode over beats the reference labels normal counts as
  false, whatever the rate.

Prints the table and the missed and false episodes; writes bench/results/episodes_real.csv.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import wfdb

from ecgdesk.analysis.evaluation import AAMI_CLASS, BEAT_SYMBOLS
from ecgdesk.analysis.findings import EpisodeType
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.analysis.quality import runs
from ecgdesk.records import open_recording

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
REFERENCE = {"(AFIB": "af", "(AFL": "flutter", "(VT": "vt", "(VFL": "vf", "(VF": "vf", "(SVTA": "svt"}
#: the episode types that find a reference stretch of each kind
FINDS = {"af": (EpisodeType.AF, EpisodeType.FLUTTER), "flutter": (EpisodeType.FLUTTER, EpisodeType.AF),
         "vt": (EpisodeType.VT, EpisodeType.VF), "vf": (EpisodeType.VF, EpisodeType.VT),
         "svt": (EpisodeType.SVT,)}
#: the reference kinds each episode type is right on
RIGHT_ON = {EpisodeType.AF: ("af", "flutter"), EpisodeType.FLUTTER: ("af", "flutter"),
            EpisodeType.VT: ("vt", "vf"), EpisodeType.VF: ("vf", "vt"), EpisodeType.SVT: ("svt",)}
AF_MIN_S = 30.0


@dataclass
class Tally:
    found: int = 0
    total: int = 0
    names: list[str] = field(default_factory=list)

    def rate(self) -> float:
        return 100.0 * self.found / self.total if self.total else float("nan")


def stretches(ann: wfdb.Annotation, fs: float, n: int) -> list[tuple[str, float, float]]:
    """(kind, start s, stop s) of each reference stretch of a kind in :data:`REFERENCE`."""
    notes = [(int(s), (a or "").strip("\x00 ")) for s, a in zip(ann.sample, ann.aux_note, strict=True)]
    notes = [(s, a) for s, a in notes if a.startswith("(")]
    if not notes:
        return []
    out = []
    for (s, a), (e, _) in zip(notes, [*notes[1:], (n, "")], strict=True):
        if a in REFERENCE:
            out.append((REFERENCE[a], s / fs, e / fs))
    return out


def label_runs(ann: wfdb.Annotation, fs: float) -> list[tuple[str, float, float]]:
    """(``svt`` or ``vt``, first beat s, last beat s) of each run of 3 or more beats labelled S or V."""
    keep = np.isin(ann.symbol, list(BEAT_SYMBOLS))
    samples = np.asarray(ann.sample)[keep]
    classes = np.array([AAMI_CLASS[s] for s in np.asarray(ann.symbol)[keep]])
    return [("svt" if cls == "S" else "vt", samples[a] / fs, samples[b - 1] / fs)
            for cls in ("S", "V") for a, b in runs(classes == cls) if b - a >= 3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--list", type=int, default=12, metavar="N",
                        help="missed and false episodes listed per row (default 12; 0: all)")
    args = parser.parse_args()
    shown = args.list if args.list > 0 else None
    sens: dict[str, Tally] = {}
    ppv: dict[str, Tally] = {}
    for database in ("mitdb", "svdb"):
        for header in sorted((args.data / database).glob("*.hea")):
            base = str(header.with_suffix(""))
            if not Path(base + ".atr").exists():
                continue
            info = wfdb.rdheader(base)
            ann = wfdb.rdann(base, "atr")
            reference = stretches(ann, float(info.fs), int(info.sig_len))
            runs = label_runs(ann, float(info.fs))
            episodes = analyze(open_recording(header), lead=None).findings.episodes
            where = f"{database}/{header.stem}"
            for kind, a, b in reference:
                hit = any(e.type in FINDS[kind] and e.start_s < b and e.end_s > a for e in episodes)
                groups = [kind]
                if kind == "af" and b - a >= AF_MIN_S:
                    groups.append(f"{kind} >= {AF_MIN_S:g} s")
                for group in groups:
                    tally = sens.setdefault(group, Tally())
                    tally.total += 1
                    tally.found += hit
                    if not hit:
                        tally.names.append(f"{where}@{a:.0f}s ({b - a:.1f} s)")
            for e in episodes:
                if e.type not in RIGHT_ON:
                    continue
                right = any(k in RIGHT_ON[e.type] and e.start_s < b + 1.0 and e.end_s > a - 1.0
                            for k, a, b in reference + runs)
                tally = ppv.setdefault(e.type.value, Tally())
                tally.total += 1
                tally.found += right
                if not right:
                    tally.names.append(f"{where}@{e.start_s:.0f}s ({e.end_s - e.start_s:.1f} s)")
    rows = []
    print("reference stretches found (sensitivity):")
    for group, t in sorted(sens.items()):
        print(f"  {group:14} {t.found:>3} / {t.total:<3} {t.rate():5.1f} %   missed: "
              + ", ".join(t.names[:shown]) + (" ..." if shown is not None and len(t.names) > shown else ""))
        rows.append(["sensitivity", group, t.found, t.total, round(t.rate(), 1)])
    print("episodes on a reference stretch of their kind (positive predictivity):")
    for kind, t in sorted(ppv.items()):
        print(f"  {kind:14} {t.found:>3} / {t.total:<3} {t.rate():5.1f} %   false: "
              + ", ".join(t.names[:shown]) + (" ..." if shown is not None and len(t.names) > shown else ""))
        rows.append(["positive predictivity", kind, t.found, t.total, round(t.rate(), 1)])
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "episodes_real.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["measure", "kind", "right", "total", "percent"])
        writer.writerows(rows)
    print(f"wrote {RESULTS / 'episodes_real.csv'}")


if __name__ == "__main__":
    main()
