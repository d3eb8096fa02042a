"""``ecgdesk analyze``: the scanning analysis of an ambulatory (Holter / patch) recording."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgdesk.cli._common import lead_argument, options_named, print_json, progress
from ecgdesk.cli.records import add_csv_options, open_from_args
from ecgdesk.errors import check_not_overwriting


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="analyse an ambulatory recording: beats, rhythm, events, HR, HRV, quality",
        description="Scanning analysis of a Holter or patch recording. Writes DIR/findings.json, "
        "DIR/beats.csv (sample,symbol) and DIR/<record>.ecgdesk (WFDB annotations).",
    )
    parser.add_argument("path", type=Path, help="recording file (WFDB .hea, EDF, ISHNE, DICOM, CSV ...)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--lead", default=None, metavar="LEAD",
        help="lead name or index to analyse, as for strips and delineate (default: best quality)"
    )
    parser.add_argument(
        "--diary", type=Path, default=None, metavar="CSV", help="patient diary, 'time,symptom'"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_csv_options(parser)
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from ecgdesk.analysis.diary import read_diary
    from ecgdesk.analysis.io import ANNOTATION_EXTENSION, write_outputs
    from ecgdesk.analysis.pipeline import analyze
    from ecgdesk.records import recording_files

    recording = open_from_args(args)
    name = recording.record_name or Path(args.path).stem
    outputs = [args.out / n for n in ("findings.json", "beats.csv", f"{name}.{ANNOTATION_EXTENSION}")]
    inputs = [*recording_files(recording.path or args.path), *([args.diary] if args.diary else [])]
    check_not_overwriting(outputs, inputs, "--out")  # checked before the work, and nothing written yet
    if args.diary is not None:  # read at the end of the analysis: refuse a bad one before the work
        with options_named({"diary": "--diary"}):
            read_diary(args.diary, recording.start_time, recording.duration_s)
    with progress(recording.duration_s, "analyze") as bar:
        lead = lead_argument(args.lead) if args.lead else None
        result = analyze(recording, lead=lead, diary=args.diary, progress=bar.update)
    findings, paths = write_outputs(
        result.findings, result.beats.samples, result.beats.labels, recording.fs, args.out, name
    )
    s = findings.summary
    if args.json:
        print_json(
            {
                "findings": str(paths.findings),
                "beats": str(paths.beats),
                "total_beats": s.total_beats,
                "analyzable_time_s": s.analyzable_time_s,
                "episodes": len(findings.episodes),
            }
        )
    else:
        print(
            f"{paths.findings}: {s.total_beats} beats, analyzable {s.analyzable_time_s / 3600:.2f} h "
            f"({s.analyzable_pct:.1f}%), AF burden {s.af_burden_pct:.1f}%, {len(findings.episodes)} episodes"
        )
    for message in findings.messages:
        print(f"{message.level.value}: {message.text}")
    return 0
