"""``ecgdesk simulate``: a multi-day ambulatory recording with events and exact truth, or (``--exercise``)
a 12-lead exercise test through a Bruce protocol with its protocol file (thin handler)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from ecgdesk.cli._common import options_named, progress
from ecgdesk.errors import InputError

AMBULATORY_FS = 250.0
EXERCISE_FS = 500.0
#: The simulators' parameter names and the options that set them (an error names what the user typed).
AMBULATORY_OPTIONS = {"leads": "--leads", "fs": "--fs", "name": "--name", "events": "--events",
                      "fmt": "--format", "start": "--start"}
EXERCISE_OPTIONS = {"fs": "--fs", "age": "--age", "sex": "--sex", "exercise_s": "--exercise-min",
                    "st_depression_mm": "--st-depression", "pvc_per_min": "--pvc-per-min", "name": "--name"}


def _start(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError("--start", f"an ISO date-time such as 2026-01-05T09:00, got {text!r}") from None


def _span_option(args: argparse.Namespace) -> str:
    return "--hours" if args.hours is not None else "--days"


def _exercise(args: argparse.Namespace) -> int:
    from ecgdesk.records.simulator.exercise import ExerciseConfig, simulate_exercise

    if args.days is not None or args.hours is not None:
        raise InputError(_span_option(args), "--exercise simulates a stress test; its length is "
                                             "--exercise-min")
    if args.leads not in (None, 12):
        raise InputError("--leads", f"the exercise mode writes the 12 standard leads, got {args.leads}")
    config = ExerciseConfig(age=args.age, sex=args.sex, exercise_s=args.exercise_min * 60.0,
                            fs=EXERCISE_FS if args.fs is None else args.fs,
                            st_depression_mm=args.st_depression, pvc_per_min=args.pvc_per_min,
                            seed=args.seed, name=args.name or "stress")
    with options_named(EXERCISE_OPTIONS):
        config.validate()
    total = int(config.pretest_s + config.exercise_s + config.recovery_s)
    with progress(total, "simulating", unit="s") as bar:
        out = simulate_exercise(config, Path(args.out), progress=bar.update)
    print(f"wrote {out.record} (12 leads, {config.fs:g} Hz, {total / 60:.1f} min), {out.protocol}, "
          f"{out.truth}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    if args.exercise:
        return _exercise(args)
    from ecgdesk.records.simulator import SimulationConfig, simulate

    if (args.days is None) == (args.hours is None):
        raise InputError("--days", "give exactly one of --days or --hours")
    if args.hours is not None and not 0 < args.hours <= 31 * 24:
        raise InputError("--hours", f"must be more than 0 and at most {31 * 24}, got {args.hours:g}")
    days = args.days if args.days is not None else args.hours / 24.0
    config = SimulationConfig(days=days, leads=2 if args.leads is None else args.leads,
                              fs=AMBULATORY_FS if args.fs is None else args.fs, seed=args.seed,
                              events=args.events, fmt=args.format, name=args.name or "sim",
                              start=_start(args.start))
    with options_named({**AMBULATORY_OPTIONS, "days": _span_option(args)}):
        config.validate()
    with progress(config.total_s, "simulating") as bar:
        result = simulate(config, Path(args.out), progress=bar.update)
    print(f"wrote {result.record} ({config.leads} lead(s), {config.fs:g} Hz, {config.total_s / 3600:.1f} h, "
          f"{result.n_beats} beats)")
    print(f"truth: {result.annotations}, {result.truth}, {result.diary}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    sim = subparsers.add_parser(
        "simulate", help="simulate a multi-day ambulatory ECG with events and exact truth, or a stress test",
        description="Writes the recording (WFDB or ISHNE), <name>.atr beat truth, <name>.diary.csv, "
                    "<name>.truth.json; deterministic for a seed. With --exercise: a 12-lead Bruce exercise "
                    "test (<name>.hea/.dat, <name>.protocol.json, <name>.truth.json). See docs/simulator.md.")
    span = sim.add_mutually_exclusive_group()
    span.add_argument("--days", type=float, help="length in days (at most 31)")
    span.add_argument("--hours", type=float, help="length in hours")
    sim.add_argument("--leads", type=int, help="number of leads (default 2; the exercise mode writes 12)")
    sim.add_argument("--fs", type=float, help="sampling rate in Hz (default 250; exercise 500)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", required=True, help="output folder")
    sim.add_argument("--events", help="event spec or a JSON file (default: a typical mix per day)")
    sim.add_argument("--format", choices=["wfdb", "ishne"], default="wfdb")
    sim.add_argument("--name", help="record name (default sim; exercise: stress)")
    sim.add_argument("--start", default="2026-01-05T09:00:00", help="recording start (ISO date-time)")
    exercise = sim.add_argument_group("exercise mode")
    exercise.add_argument("--exercise", action="store_true", help="simulate an exercise stress test")
    exercise.add_argument("--protocol", choices=["bruce"], default="bruce", help="treadmill protocol")
    exercise.add_argument("--age", type=int, default=55, help="years (sets the age-predicted maximum HR)")
    exercise.add_argument("--sex", choices=["M", "F"], default="M")
    exercise.add_argument("--exercise-min", type=float, default=9.0, help="minutes of exercise (max 21)")
    exercise.add_argument("--st-depression", type=float, default=0.0, help="ST depression to inject, mm")
    exercise.add_argument("--pvc-per-min", type=float, default=0.5)
    sim.set_defaults(func=_simulate)
