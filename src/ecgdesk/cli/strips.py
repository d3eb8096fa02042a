"""``ecgdesk strips``: triage of event-monitor rhythm strips into N / A / O / ~, one CSV row per strip."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgdesk.cli._common import lead_argument, progress
from ecgdesk.cli.records import add_csv_options
from ecgdesk.errors import InputError, check_positive

MAX_JOBS = 64


def _strips(args: argparse.Namespace) -> int:
    from ecgdesk.analysis.strips.batch import (
        OpenOptions,
        classify_files,
        collect_strip_paths,
        summarize,
        write_rows,
    )
    from ecgdesk.analysis.strips.classify import ALGORITHM_VERSION
    from ecgdesk.analysis.strips.model import default_ensemble

    jobs = int(check_positive("--jobs", args.jobs))
    if jobs > MAX_JOBS:
        raise InputError("--jobs", f"{jobs} worker processes are more than this command starts (at most "
                                   f"{MAX_JOBS})")
    lead = lead_argument(args.lead) if args.lead else None
    paths = collect_strip_paths(args.paths)
    out = Path(args.out)
    with progress(len(paths), "strips", unit="strip") as bar:
        options = OpenOptions(lead, args.csv_unit, args.csv_fs)
        rows = write_rows(classify_files(paths, jobs=jobs, options=options), out,
                          on_row=lambda _row: bar.update(1), inputs=paths)
    summary = summarize(rows)
    version = default_ensemble().version or "unversioned"
    print(f"ecgdesk strips: {summary.line()}; {ALGORITHM_VERSION}, model {version}; wrote {out}",
          file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "strips",
        help="classify rhythm strips (N sinus, A AF/flutter, O other, ~ noisy) into a CSV",
        description="Classify event-monitor rhythm strips. PATH is a recording file or a folder of them "
                    "(WFDB headers, EDF, ISHNE, DICOM, HL7 aECG; CSV files only when named). One bad "
                    "file gives a '~' row with the reason and the batch goes on.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="strip files or folders")
    parser.add_argument("--out", required=True, help="CSV to write: record,label,confidence,heart_rate_bpm,"
                                                     "reason")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--lead", help="lead name or index to classify (default: the first lead, or the "
                        "first one that is not a flat line when it is)")
    add_csv_options(parser)
    parser.set_defaults(func=_strips)
