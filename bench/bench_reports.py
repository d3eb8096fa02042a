"""Scanning-report rendering time for a 15-day patch recording (target: a few seconds on the 2-core box).

Findings come from the report tests' multi-day builder (per-minute trend of 21,600 points, 360 hourly rows,
AF episodes, a pause, a VT run, diary events); the recording is a lazy synthetic source (beats drawn on
demand), so strips read only their 7 s windows, as with a real 15-day file; 1.6 M labelled beats feed the
digest. No peer renders Holter reports, so the figure is printed against the target and written to
``bench/results/reports_render.csv``. CPU seconds are printed beside wall seconds: the machine is shared.

    .venv/bin/python bench/bench_reports.py [--days 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reports"))

from scanning_builders import synthetic_long_findings  # noqa: E402

from ecgdesk.records.recording import Lead, Recording  # noqa: E402
from ecgdesk.reports.context import (  # noqa: E402
    ReportHeader,
    ScanningReportContext,
    SimpleBeats,
    report_content_digest,
)
from ecgdesk.reports.scanning import render_scanning_report  # noqa: E402

FS = 250.0
RR_S = 0.8
TARGET_S = 5.0


class SyntheticSource:
    """ECG-like beats every ``RR_S`` seconds, rendered only for the window asked for."""

    def read(self, start: int, stop: int, lead_indices: Sequence[int]) -> np.ndarray:
        t = np.arange(start, stop) / FS
        phase = (t % RR_S) - RR_S / 2
        x = (1.1 * np.exp(-0.5 * (phase / 0.011) ** 2) + 0.3 * np.exp(-0.5 * ((phase - 0.26) / 0.05) ** 2)
             + 0.12 * np.exp(-0.5 * ((phase + 0.17) / 0.025) ** 2))
        return np.repeat(x[:, None], len(lead_indices), axis=1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=15.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = datetime(2026, 3, 2, 9, 30)
    findings = synthetic_long_findings(days=args.days, start=start)
    n = int(args.days * 86400 * FS)
    rec = Recording(FS, n, (Lead("ch1"),), SyntheticSource(), start_time=start)
    samples = (np.arange(int(args.days * 86400 / RR_S)) * RR_S * FS + RR_S / 2 * FS).astype(np.int64)
    labels = np.where(np.arange(samples.size) % 97 == 0, "V", "N").astype("<U1")
    header = ReportHeader("Doe, Jane", "MRN-1", date(1950, 1, 1), "F", "Dr. Order", "1234567893",
                          ("R00.2 Palpitations",), "Patch", start, study_id="BENCH")
    ctx = ScanningReportContext(header, findings, rec, SimpleBeats(samples, labels),
                                interpretation="Benchmark report.")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            report_content_digest(ctx)
            t1, c1 = time.perf_counter(), time.process_time()
            pdf_only = render_scanning_report(ctx, Path(tmp), f"pdf{i}", html=False)
            t2, c2 = time.perf_counter(), time.process_time()
            both = render_scanning_report(ctx, Path(tmp), f"both{i}")
            t3, c3 = time.perf_counter(), time.process_time()
            rows.append({"days": args.days, "beats": samples.size, "pages": both.page_count,
                         "digest_s": round(t1 - t0, 3), "pdf_s": round(t2 - t1, 3),
                         "pdf_html_s": round(t3 - t2, 3), "pdf_cpu_s": round(c2 - c1, 3),
                         "pdf_html_cpu_s": round(c3 - c2, 3), "target_s": TARGET_S})
            assert pdf_only.page_count == both.page_count
    best = min(rows, key=lambda r: r["pdf_html_s"])
    print(f"{args.days:g}-day report, {best['pages']} pages, {best['beats']:,} beats: "
          f"digest {best['digest_s']} s, "
          f"PDF {best['pdf_s']} s (CPU {best['pdf_cpu_s']} s), PDF+HTML {best['pdf_html_s']} s "
          f"(CPU {best['pdf_html_cpu_s']} s) "
          f"({best['pdf_html_s'] / TARGET_S:.2f} x the {TARGET_S:g} s target; best of {args.repeat})")
    out = ROOT / "bench" / "results" / "reports_render.csv"
    out.parent.mkdir(exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
