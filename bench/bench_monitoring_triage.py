"""Triage cost per strip, in one run on the same strips: the strip classifier alone, the triage as the queue
runs it (classifier + beats, the ambulatory engine only where it could raise the priority under the
default criteria), and the triage with the engine on every strip. Also how often the two triages disagree
on the priority (they must not).

    cd bench && ../.venv/bin/python bench_monitoring_triage.py --strips 500 [--priorities OUT.csv]

``--priorities`` writes each strip's priority under the default criteria (with its CinC label), so two
versions of the analysis can be compared strip by strip (``diff``); the priorities by label are printed.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cinc2017"


def main() -> None:
    from ecgdesk.analysis.strips import classify_strip
    from ecgdesk.monitoring.criteria import default_criteria
    from ecgdesk.monitoring.triage import match, observe
    from ecgdesk.records import open_recording

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strips", type=int, default=500, help="the first N cinc2017 strips (by name)")
    parser.add_argument("--priorities", type=Path, default=None,
                        help="also write record,label,priority of every strip here (CSV), to compare two "
                             "versions of the analysis strip by strip")
    args = parser.parse_args()
    labels = dict(line.split(",")[:2] for line in (DATA / "REFERENCE.csv").read_text().split())
    priorities: list[tuple[str, str, str]] = []
    criteria = default_criteria()
    timings: dict[str, list[float]] = {"classifier": [], "triage": [], "triage_engine_always": []}
    differ, engine_ran = [], 0
    load_before = os.getloadavg()
    for header in sorted(DATA.glob("*.hea"))[: args.strips]:
        recording = open_recording(header)
        t0 = time.perf_counter()
        classify_strip(recording)
        t1 = time.perf_counter()
        cheap = observe(recording, criteria=criteria)
        t2 = time.perf_counter()
        full = observe(recording)
        t3 = time.perf_counter()
        timings["classifier"].append(t1 - t0)
        timings["triage"].append(t2 - t1)
        timings["triage_engine_always"].append(t3 - t2)
        engine_ran += bool(cheap.engine)
        priority = match(criteria, cheap).priority
        if priority is not match(criteria, full).priority:
            differ.append(header.stem)
        priorities.append((header.stem, labels.get(header.stem, ""), str(priority)))
    n = len(timings["triage"])
    for name, values in timings.items():
        p95 = 1000 * statistics.quantiles(values, n=20)[-1]
        print(f"{name:22s} mean {1000 * statistics.mean(values):6.1f} ms  p50 "
              f"{1000 * statistics.median(values):6.1f} ms  p95 {p95:6.1f} ms  "
              f"({n / sum(values):.1f} strips/s on one core)")
    ratio = sum(timings["triage_engine_always"]) / sum(timings["triage"])
    print(f"engine ran on {engine_ran} of {n} strips; triage {ratio:.2f}x faster than with the engine "
          f"always; priority differs on {len(differ)} strips {differ[:10]}")
    print(f"load average before {load_before}, after {os.getloadavg()}; {os.cpu_count()} cores")
    by_label = Counter((label, priority) for _, label, priority in priorities)
    for label in sorted({label for _, label, _ in priorities}):
        counts = ", ".join(f"{p} {c}" for (lab, p), c in sorted(by_label.items()) if lab == label)
        print(f"label {label or '?'}: {counts}")
    if args.priorities is not None:
        with args.priorities.open("w", newline="") as f:
            csv.writer(f).writerows([("record", "label", "priority"), *priorities])
        print(f"wrote {args.priorities}")


if __name__ == "__main__":
    main()
