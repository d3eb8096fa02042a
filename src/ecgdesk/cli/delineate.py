"""``ecgdesk delineate``: P, QRS and T onset, peak and offset of every beat of a recording, any length."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgdesk.cli._common import lead_argument, print_json, progress
from ecgdesk.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "delineate", help="delineate every beat of a recording: P, QRS, T onset/peak/offset per lead",
        description="Delineate P, QRS and T on every beat of a recording of any length and number of leads "
                    "(streamed in blocks); write DIR/waves.csv (lead,wave,onset,peak,offset in samples; "
                    "lead 'all' for the multi-lead marks) and DIR/delineation.json.")
    parser.add_argument("path", type=Path, help="recording (WFDB .hea, EDF, DICOM, HL7 aECG XML, ISHNE, CSV)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--leads", nargs="+", metavar="LEAD",
                        help="leads to delineate, by name or index (space- or comma-separated; default all)")
    parser.add_argument("--json", action="store_true", help="print delineation.json to stdout")
    parser.set_defaults(func=handle)


def _leads(values: list[str] | None) -> list[str | int] | None:
    if not values:
        return None
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not names:
        raise InputError("--leads", "give at least one lead name or index")
    return [lead_argument(name) for name in names]


def handle(args: argparse.Namespace) -> int:
    from ecgdesk.analysis.io import write_text_atomic
    from ecgdesk.analysis.waves import ALGORITHM_VERSION, write_waves_csv
    from ecgdesk.records import open_recording

    recording = open_recording(args.path)
    leads = _leads(args.leads)
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = f"cannot create the output folder: {error.strerror or error}"
        raise InputError("--out", reason, out) from None
    with progress(recording.duration_s, "delineate") as bar:
        summary = write_waves_csv(recording, out / "waves.csv", leads, progress=bar.update)
    doc = {
        "algorithm_version": ALGORITHM_VERSION, "source": str(args.path), "fs": recording.fs,
        "leads": list(summary.leads), "duration_s": round(summary.seconds, 3), "beats": summary.beats,
        "rows": summary.rows, "waves": str(summary.path), "not_delineated_s": summary.skipped_s,
        "median_ms": {"pr": summary.pr_ms, "qrs": summary.qrs_ms, "qt": summary.qt_ms},
    }
    write_text_atomic(out / "delineation.json", json.dumps(doc, indent=2) + "\n")
    if args.json:
        print_json(doc)
        return 0
    print(f"{args.path}: {summary.beats} beats delineated on {len(summary.leads)} leads over "
          f"{summary.seconds:.1f} s; median PR {summary.pr_ms} ms, QRS {summary.qrs_ms} ms, "
          f"QT {summary.qt_ms} ms")
    if summary.skipped_s:
        print(f"  {summary.skipped_s:.1f} s not delineated: noise, lead-off or fibrillation on every lead")
    print(f"  wrote {summary.path}, {out / 'delineation.json'}")
    return 0
