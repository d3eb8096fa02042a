"""Claim scrubbing throughput with the full CMS PTP table loaded, and the time to load that release.

Targets (issue 5): scrub >= 10,000 claim lines per second on the project machine with the full PTP table
(the 92k-row 2024-Q3 extract of ../shared/data/cms) loaded; load that PTP release from the store in < 1 s.
There is no open-source scrubber to run as a peer, so the ratios printed are against the targets and,
for loading, against parsing the source CSV again (what a store-less tool would do each run).

    python bench/bench_scrub.py [--claims 20000] [--seed 7] [--repeat 5]

Writes ``bench/results/coding_scrub.csv`` (one row per measure with the machine's CPU count and a UTC stamp).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ecgdesk.coding.facts import Claim, ClaimLine, Setting
from ecgdesk.coding.importers import import_files
from ecgdesk.coding.refdata import RefData, RefStore, clear_table_cache
from ecgdesk.coding.scrub import scrub
from ecgdesk.coding.tables import TableKind

ROOT = Path(__file__).resolve().parents[1]
CMS = ROOT.parent / "shared" / "data" / "cms"
RESULTS = ROOT / "bench" / "results"
TARGET_LINES_PER_S = 10_000.0
TARGET_LOAD_S = 1.0

# A realistic mix: ECG family codes, visits and procedures that share claims with them.
CODES = [
    "93000",
    "93005",
    "93010",
    "93040",
    "93041",
    "93042",
    "93015",
    "93016",
    "93017",
    "93018",
    "93224",
    "93225",
    "93226",
    "93227",
    "93228",
    "93229",
    "93241",
    "93242",
    "93243",
    "93244",
    "93245",
    "93246",
    "93247",
    "93248",
    "93268",
    "93270",
    "93271",
    "93272",
    "93050",
    "G0403",
    "G0404",
    "G0405",
    "99213",
    "99214",
    "99211",
    "99291",
    "G0402",
    "93351",
    "92960",
    "33285",
    "93306",
    "36415",
]
DIAGNOSES = ["R00.2", "R55", "R42", "I48.91", "I48.0", "I49.3", "R07.9", "Z00.00", "I10", "E11.9", "M54.50"]
MODIFIERS = [[], [], [], [], ["59"], ["XU"], ["26"], ["76"], ["GA"], ["52"]]
NPIS = ["1234567893", "1245319599", "1234567890"]


def make_claims(count: int, seed: int) -> list[tuple[Claim, tuple[Claim, ...]]]:
    rng = random.Random(seed)
    start = date(2024, 7, 1)
    out: list[tuple[Claim, tuple[Claim, ...]]] = []
    for n in range(count):
        setting = rng.choice([Setting.PRACTITIONER, Setting.PRACTITIONER, Setting.HOSPITAL_OUTPATIENT])
        day = start + timedelta(days=rng.randrange(90))
        diagnoses = tuple(rng.sample(DIAGNOSES, rng.randint(1, 3)))
        lines = tuple(
            ClaimLine(
                code=rng.choice(CODES),
                date_of_service=day,
                modifiers=tuple(rng.choice(MODIFIERS)),
                units=rng.choice([1, 1, 1, 2]),
                diagnosis_pointers=(1,),
                recorded_hours=rng.choice([None, 8.0, 24.0, 100.0, 200.0]),
            )
            for _ in range(rng.randint(1, 4))
        )
        claim = Claim(
            setting=setting,
            place_of_service=rng.choice(["11", "22", "81", "21"]),
            lines=lines,
            diagnoses=diagnoses,
            provider_id=rng.choice(NPIS),
            ordering_provider_npi=rng.choice(NPIS),
            abn_on_file=rng.random() < 0.2,
            interpretation_signed=rng.choice([True, False, None]),
            claim_id=f"C{n}",
        )
        history: tuple[Claim, ...] = ()
        if rng.random() < 0.25:
            old_day = day - timedelta(days=rng.randrange(1, 60))
            history = (
                Claim(
                    setting=setting,
                    place_of_service="11",
                    provider_id=rng.choice(NPIS),
                    diagnoses=("R00.2",),
                    claim_id=f"H{n}",
                    lines=(ClaimLine(rng.choice(CODES[10:28]), old_day, recorded_hours=100.0),),
                ),
            )
        out.append((claim, history))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    ptp_csv = CMS / "ncci_ptp_ecg_2024q3.csv"
    if not ptp_csv.exists():
        print(f"needs {ptp_csv} (../shared/data/cms beside the checkout)", file=sys.stderr)
        return 2
    rows: list[tuple[str, float, str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="ecgdesk-bench-refdata-") as folder:
        store = RefStore(folder)
        parse_s = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            table = import_files(TableKind.PTP, [ptp_csv])
            parse_s.append(time.perf_counter() - t0)
        release = store.save(table)
        store.save(import_files(TableKind.MUE, [CMS / "mue_ecg_2024q3.csv"]))
        store.save(import_files(TableKind.RVU, [CMS / "pfs_rvu_ecg_2024jul.csv"]))
        load_s = []
        for _ in range(args.repeat):
            clear_table_cache()
            t0 = time.perf_counter()
            loaded = store.load(release)
            load_s.append(time.perf_counter() - t0)
        cold_s = []
        day = date(2024, 8, 1)
        first = Claim(
            setting=Setting.PRACTITIONER,
            place_of_service="11",
            diagnoses=("R00.2",),
            provider_id="1234567893",
            ordering_provider_npi="1234567893",
            lines=tuple(ClaimLine(code, day) for code in ("99213", "93000", "93040")),
        )
        for _ in range(args.repeat):
            clear_table_cache()
            t0 = time.perf_counter()
            scrub(first, refdata=RefData(store))
            cold_s.append(time.perf_counter() - t0)
        cold = statistics.median(cold_s)
        load = statistics.median(load_s)
        parse = statistics.median(parse_s)
        print(f"PTP release {release.id}: {len(loaded):,} rows (from {release.files[0]})")
        print(
            f"  load from store (npz): median {load * 1000:.0f} ms of {args.repeat}; "
            f"target < {TARGET_LOAD_S:.0f} s "
            f"-> {TARGET_LOAD_S / load:.1f}x under target"
        )
        print(
            f"  parse the source CSV again: median {parse * 1000:.0f} ms "
            f"-> store is {parse / load:.1f}x faster"
        )
        print(f"  cold start (load PTP/MUE/RVU releases and scrub one claim): median {cold * 1000:.0f} ms")
        rows += [
            ("ptp_load_s", load, "s", TARGET_LOAD_S, f"{len(loaded)} rows"),
            ("cold_start_one_claim_s", cold, "s", TARGET_LOAD_S, "load releases + scrub the first claim"),
            ("ptp_csv_parse_s", parse, "s", float("nan"), "peer: re-parse the source CSV"),
        ]

        refdata = RefData(store)
        claims = make_claims(args.claims, args.seed)
        n_lines = sum(len(c.lines) for c, _ in claims)
        scrub(claims[0][0], claims[0][1], refdata=refdata)  # warm: ICD-10-CM import, release choice
        rates = []
        for _ in range(max(1, args.repeat // 2)):
            t0 = time.perf_counter()
            findings = 0
            for claim, history in claims:
                findings += len(scrub(claim, history, refdata=refdata))
            rates.append(n_lines / (time.perf_counter() - t0))
        rate = statistics.median(rates)
        print(f"scrub: {len(claims):,} claims, {n_lines:,} lines, {findings:,} findings per pass")
        print(
            f"  median {rate:,.0f} lines/s; target >= {TARGET_LINES_PER_S:,.0f} "
            f"-> {rate / TARGET_LINES_PER_S:.1f}x the target"
        )
        rows.append(
            ("scrub_lines_per_s", rate, "lines/s", TARGET_LINES_PER_S, f"{n_lines} lines, seed {args.seed}")
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "coding_scrub.csv"
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["measure", "value", "unit", "target", "note", "cpus", "utc"])
        for measure, value, unit, target, note in rows:
            writer.writerow([measure, f"{value:.4f}", unit, target, note, os.cpu_count(), stamp])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
