"""``ecgdesk simulate``: a multi-day ambulatory recording with events and exact truth (thin handler)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from ecgdesk.cli._common import progress
from ecgdesk.errors import InputError


def _start(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError("start", f"an ISO date-time such as 2026-01-05T09:00, got {text!r}") from None


def _simulate(args: argparse.Namespace) -> int:
    from ecgdesk.records.simulator import SimulationConfig, simulate

    if (args.days is None) == (args.hours is None):
        raise InputError("days", "give exactly one of --days or --hours")
    days = args.days if args.days is not None else args.hours / 24.0
    config = SimulationConfig(days=days, leads=args.leads, fs=args.fs, seed=args.seed, events=args.events,
                              fmt=args.format, name=args.name, start=_start(args.start))
    config.validate()
    with progress(config.total_s, "simulating") as bar:
        result = simulate(config, Path(args.out), progress=bar.update)
    print(f"wrote {result.record} ({config.leads} lead(s), {config.fs:g} Hz, {config.total_s / 3600:.1f} h, "
          f"{result.n_beats} beats)")
    print(f"truth: {result.annotations}, {result.truth}, {result.diary}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser(
        "simulate", help="simulate a multi-day ambulatory ECG with events and exact truth",
        description="Writes the recording (WFDB or ISHNE), <name>.atr beat truth, <name>.diary.csv, "
                    "<name>.truth.json; deterministic for a seed. Event spec: docs/simulator.md.")
    span = sim.add_mutually_exclusive_group()
    span.add_argument("--days", type=float, help="length in days (at most 31)")
    span.add_argument("--hours", type=float, help="length in hours")
    sim.add_argument("--leads", type=int, default=2)
    sim.add_argument("--fs", type=float, default=250.0)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", required=True, help="output folder")
    sim.add_argument("--events", help="event spec or a JSON file (default: a typical mix per day)")
    sim.add_argument("--format", choices=["wfdb", "ishne"], default="wfdb")
    sim.add_argument("--name", default="sim")
    sim.add_argument("--start", default="2026-01-05T09:00:00", help="recording start (ISO date-time)")
    sim.set_defaults(func=_simulate)
