"""Wall time of each step of ``ecgdesk demo`` (target: the whole demo under 3 minutes on 2 cores).

    python bench/bench_demo.py                 # 8 days, in a temporary folder (deleted afterwards)
    python bench/bench_demo.py --days 14       # a longer patch

Runs :func:`ecgdesk.workflow.demo.run_demo` in-process and times the steps from its progress messages
(simulate, create + users, import, analyze, report, review, sign, code). There is no peer for this end to
end flow; the ratio printed is the total against the 180 s budget. Writes ``bench/results/demo.csv``
(one row per step, appended with a timestamp so runs can be compared).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ecgdesk.workflow.demo import run_demo

BUDGET_S = 180.0
RESULTS = Path(__file__).resolve().parent / "results" / "demo.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=8.0)
    args = parser.parse_args()
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()

    def say(step: str, message: str) -> None:
        marks.append((step, time.perf_counter() - started))
        print(f"[{marks[-1][1]:6.1f} s] {step:9} {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ecgdesk-demo-bench-") as tmp:
        result = run_demo(Path(tmp) / "demo", days=args.days, say=say)
        for path in Path(tmp).rglob("*"):  # blobs are read-only
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
    total = time.perf_counter() - started
    # each row is the time between two progress messages: "simulate -> create" is the simulation plus
    # opening the database and adding the users; "analyze -> analyze" is the analysis itself
    rows = []
    previous_step, previous = "start", 0.0
    for step, at in marks:
        rows.append((f"{previous_step} -> {step}", at - previous))
        previous_step, previous = step, at
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    new_file = not RESULTS.exists()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new_file:
            writer.writerow(["run_at", "days", "step", "seconds", "note"])
        for step, seconds in rows:
            writer.writerow([stamp, args.days, step, f"{seconds:.2f}", ""])
        writer.writerow([stamp, args.days, "total", f"{total:.2f}", "claim " + "; ".join(result.claim_lines)])
    print(
        f"\ntotal {total:.1f} s for {args.days:g} days = {total / BUDGET_S:.2f} x the budget; "
        f"claim {', '.join(result.claim_lines)}; results appended to {RESULTS}"
    )


if __name__ == "__main__":
    main()
