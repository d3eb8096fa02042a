"""Speed and peak memory of ``ecgdesk simulate`` against NeuroKit2's ``ecg_simulate`` (a peer).

Target (issue 2 / the simulator brief): 14 days x 1 lead x 250 Hz well under a minute on the 2-core
development machine, written in blocks so the whole signal never sits in memory. Each measurement runs in
a fresh subprocess, so its CPU time and peak RSS (``resource.getrusage``) belong to it alone. NeuroKit2 holds
the whole signal in memory and has no events or truth; it is timed on a shorter stretch (``--peer-hours``)
and compared per simulated hour.

    .venv/bin/python bench/bench_simulate.py                 # 14 days, 1 lead, 250 Hz; peer 1 h
    .venv/bin/python bench/bench_simulate.py --days 1 --leads 3

Writes ``bench/results/simulate.csv`` (tool, simulated hours, leads, wall s, CPU s, CPU s per simulated
hour, peak RSS MB) and prints the ratio. Output files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

_OURS = """
import json, resource, sys, time
from pathlib import Path
from ecgdesk.records.simulator import SimulationConfig, simulate
days, leads, out = float(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
t0, c0 = time.perf_counter(), time.process_time()
result = simulate(SimulationConfig(days=days, leads=leads, fs=250.0, seed=1, name="bench"), out)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "beats": result.n_beats}))
"""

_PEER = """
import json, resource, sys, time
import neurokit2 as nk
hours = float(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
ecg = nk.ecg_simulate(duration=int(hours * 3600), sampling_rate=250, method="simple", random_state=1)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "beats": 0}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=14.0)
    parser.add_argument("--leads", type=int, default=1)
    parser.add_argument("--peer-hours", type=float, default=1.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = _run(_OURS, str(args.days), str(args.leads), tmp)
    rows.append(("ecgdesk simulate", args.days * 24, args.leads, ours))
    peer = _run(_PEER, str(args.peer_hours))
    rows.append(("neurokit2 ecg_simulate (simple)", args.peer_hours, 1, peer))
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "simulate.csv").open("w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["tool", "hours", "leads", "wall_s", "cpu_s", "cpu_s_per_hour", "peak_rss_mb"])
        for tool, hours, leads, m in rows:
            out.writerow([tool, f"{hours:g}", leads, f"{m['wall']:.1f}", f"{m['cpu']:.1f}",
                          f"{m['cpu'] / hours:.3f}", f"{m['rss']:.0f}"])
    for tool, hours, leads, m in rows:
        print(f"{tool}: {hours:g} h x {leads} lead(s), 250 Hz: wall {m['wall']:.1f} s, "
              f"CPU {m['cpu']:.1f} s "
              f"({m['cpu'] / hours:.3f} s per hour), peak RSS {m['rss']:.0f} MB")
    ratio = (peer["cpu"] / args.peer_hours) / max(ours["cpu"] / (args.days * 24), 1e-9)
    print(f"CPU per simulated hour: neurokit2 / ecgdesk = {ratio:.1f}x (ecgdesk also writes the file, "
          f"events and truth); target: {args.days:g} days well under 60 s -> CPU {ours['cpu']:.1f} s")


if __name__ == "__main__":
    main()
