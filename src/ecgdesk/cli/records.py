"""Recording commands: ``info`` and ``convert`` (``simulate`` is registered by ``cli/simulate.py``)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ecgdesk.cli._common import options_named, print_json, progress

if TYPE_CHECKING:
    from ecgdesk.records import Recording

_MAX_EVENTS_SHOWN = 20
#: ``records.writers.WRITE_FORMATS``, spelled here so that building the parser imports no reader
#: (tests/cli/test_cli_startup.py checks the two agree).
WRITE_FORMATS = ("wfdb", "ishne")
#: The readers' parameter names and the options that set them.
CSV_OPTIONS = {"csv_fs": "--csv-fs", "csv_unit": "--csv-unit"}


def add_csv_options(parser: argparse.ArgumentParser) -> None:
    """``--csv-unit`` and ``--csv-fs``, for every command that opens a recording."""
    parser.add_argument("--csv-unit", default=None, help="unit of CSV sample values (mV, uV, V; default mV)")
    parser.add_argument("--csv-fs", type=float, default=None,
                        help="sampling rate in Hz of a CSV without a time column")


def open_from_args(args: argparse.Namespace, path: str | Path | None = None) -> Recording:
    """The recording at ``args.path`` (or ``path``) with the CSV options of :func:`add_csv_options`."""
    from ecgdesk.records import open_recording

    with options_named(CSV_OPTIONS):
        return open_recording(Path(args.path if path is None else path),
                              csv_unit=getattr(args, "csv_unit", None), csv_fs=getattr(args, "csv_fs", None))


def describe(recording: Recording) -> str:
    """The human summary ``ecgdesk info`` prints."""
    patient = recording.patient
    who = " ".join(v for v in (patient.first_name, patient.last_name) if v)
    lines = [
        f"file        {recording.path}",
        f"format      {recording.format.value}",
        f"duration    {timedelta(seconds=round(recording.duration_s))} ({recording.duration_s:.1f} s, "
        f"{recording.n_samples} samples at {recording.fs:g} Hz)",
        f"start       {recording.start_time.isoformat() if recording.start_time else 'unknown'}",
        f"device      {recording.device or 'unknown'}",
        f"patient     {patient.patient_id or '-'} {who} {patient.sex or ''} "
        f"{patient.birth_date.isoformat() if patient.birth_date else ''}".rstrip(),
        f"leads       {recording.n_leads}: "
        + ", ".join(f"{lead.name} [{lead.unit}]" for lead in recording.leads),
        f"events      {len(recording.events)}",
    ]
    for event in recording.events[:_MAX_EVENTS_SHOWN]:
        at = timedelta(seconds=round(event.sample / recording.fs, 3))
        lines.append(f"  {at}  {event.kind.value:17} {event.label}")
    if len(recording.events) > _MAX_EVENTS_SHOWN:
        lines.append(f"  ... {len(recording.events) - _MAX_EVENTS_SHOWN} more (use --json for all)")
    lines += [f"warning     {text}" for text in recording.warnings]
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    recording = open_from_args(args)
    if args.json:
        print_json(recording.summary())
    else:
        print(describe(recording))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    recording = open_from_args(args)
    from ecgdesk.records import write_recording

    with progress(total=recording.n_samples, desc=f"convert to {args.to}", unit="samples") as bar:
        path = write_recording(recording, Path(args.out_dir), args.to, record_name=args.name,
                               progress=bar.update)
    print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``info`` and ``convert``."""
    info = subparsers.add_parser(
        "info", help="show a recording's format, duration, leads, patient and events",
        description="Open a recording (WFDB, EDF/EDF+, ISHNE, DICOM, HL7 aECG, CSV; recognised by content) "
                    "and print its metadata.",
    )
    info.add_argument("path", help="recording file (a WFDB record may be given with or without .hea)")
    info.add_argument("--json", action="store_true", help="print the metadata as JSON")
    add_csv_options(info)
    info.set_defaults(func=_cmd_info)

    convert = subparsers.add_parser(
        "convert", help="convert a recording to WFDB or ISHNE, streaming",
        description="Convert any readable recording to WFDB (format 16, events in <name>.evt) or ISHNE 1.0.",
    )
    convert.add_argument("path", metavar="IN", help="input recording")
    convert.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created if absent)")
    convert.add_argument("--to", required=True, choices=WRITE_FORMATS, help="output format")
    convert.add_argument("--name", default=None, help="output record name (default: the input's name)")
    add_csv_options(convert)
    convert.set_defaults(func=_cmd_convert)
