"""What the monitoring triage (``ecgdesk.monitoring.triage.observe``, ambulatory engine included) reads on
the VT strips that ``bench/bench_ventricular_strips.py`` cuts: the strip label and whether any event says
VT or VF, so a VT strip the classifier does not call ``V`` can still be seen to raise a VT event.

    .venv/bin/python bench/ventricular_triage_events.py [--data ../shared/data]

Strips without VT are not read here (the engine's false VT events are the ambulatory benches' business).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ventricular_strips import cut
from ecgdesk.monitoring.triage import observe
from ecgdesk.records import Recording

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    tally: dict[str, Counter[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        positive, negative = Path(tmp) / "ventricular", Path(tmp) / "other"
        positive.mkdir()
        negative.mkdir()
        groups = cut(args.data, 10.0, positive, negative, short_vt=True)
        for header in sorted(positive.glob("*.hea")):
            group = groups[header.stem]
            if not group.startswith("vt"):
                continue
            rec = wfdb.rdrecord(str(header.with_suffix("")), channels=[0])
            seen = observe(Recording.from_array(rec.p_signal[:, 0], float(rec.fs)))
            kinds = {e.kind for e in seen.events}
            counts = tally.setdefault(group, Counter())
            counts["strips"] += 1
            counts["label V"] += seen.label == "V"
            counts["VT or VF event"] += bool(kinds & {"vt", "vf"})
            if seen.label != "V":
                print(f"{header.stem}: label {seen.label}, events {sorted(kinds)}")
    for group, counts in sorted(tally.items()):
        print(f"{group:20} {counts['strips']:>3} strips: label V {counts['label V']}, "
              f"a VT or VF event {counts['VT or VF event']}")


if __name__ == "__main__":
    main()
