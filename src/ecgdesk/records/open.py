"""``open_recording``: recognise a recording's format by its content and open it lazily.

Detection, in order (first match wins):

1. a path that does not exist but ``<path>.hea`` does -> WFDB record;
2. an empty file -> error;
3. ``ISHNE1.0`` magic -> ISHNE; ``DICM`` at byte 128 -> DICOM; EDF version field ``0`` (or BDF
   ``\\xffBIOSEMI``) with header size 256 x (signals + 1) -> EDF; an ``AnnotatedECG`` XML root -> HL7 aECG;
4. text whose first non-comment line is ``name nsig fs nsamp`` -> WFDB header;
5. a binary file beside a ``.hea`` of the same stem (``100.dat``, ``A00001.mat``) -> WFDB;
6. delimited numeric text -> CSV;
7. an unrecognised file named ``*.ecg``/``*.ishne`` goes to the ISHNE reader, which names the bad magic.

Anything else is a :class:`RecordingError` naming the file. File names are never trusted alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecgdesk.errors import RecordingError
from ecgdesk.records import _ishne
from ecgdesk.records._checks import check_regular_file
from ecgdesk.records.csv_reader import looks_like_csv, read_csv
from ecgdesk.records.dicom_reader import looks_like_dicom, read_dicom
from ecgdesk.records.edf_reader import looks_like_edf, read_edf
from ecgdesk.records.hl7aecg import looks_like_hl7_aecg, read_hl7_aecg
from ecgdesk.records.ishne_reader import read_ishne
from ecgdesk.records.recording import Recording, RecordingFormat
from ecgdesk.records.wfdb_reader import looks_like_wfdb_header, read_header_text, read_wfdb, record_base

_HEAD_BYTES = 4096
ISHNE_SUFFIXES = (".ecg", ".ishne")


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 4  # a multi-byte character cut by the head size
    return True


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read(_HEAD_BYTES)
    except OSError as exc:
        raise RecordingError(path, "file", f"cannot be read: {exc.strerror or exc}") from None


def detect_format(path: str | Path) -> RecordingFormat:
    """The format of the recording at ``path``, from its content (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        if path.with_name(path.name + ".hea").is_file():
            return RecordingFormat.WFDB
        raise RecordingError(path, "file", "no such file (nor a WFDB record of that name)")
    check_regular_file(path)  # a FIFO, device or socket is refused before it is opened
    head = _head(path)
    if not head:
        raise RecordingError(path, "file", "is empty (0 bytes)")
    if head[:8] == _ishne.ECG_MAGIC:
        return RecordingFormat.ISHNE
    if head[:8] == _ishne.ANN_MAGIC:
        raise RecordingError(path, "magic", "this is an ISHNE annotation file, not a recording; "
                                            "read it with read_beat_annotations")
    if looks_like_dicom(head):
        return RecordingFormat.DICOM
    if looks_like_edf(head):
        return RecordingFormat.EDF
    text = _is_text(head)
    if text and looks_like_hl7_aecg(head):
        return RecordingFormat.HL7_AECG
    if text and looks_like_wfdb_header(head.decode("utf-8", errors="replace")):
        return RecordingFormat.WFDB
    if not text and path.with_suffix(".hea").is_file():
        _check_signal_file(path)
        return RecordingFormat.WFDB
    if text and looks_like_csv(head):
        return RecordingFormat.CSV
    if path.suffix.lower() in ISHNE_SUFFIXES:
        return RecordingFormat.ISHNE  # named like ISHNE: its reader reports the wrong magic
    shown = head[:16]
    raise RecordingError(path, "format", f"not a recognised recording format (WFDB, EDF/EDF+, ISHNE 1.0, "
                                         f"DICOM ECG, HL7 aECG, CSV); the file starts with {shown!r}")


def _check_signal_file(path: Path) -> None:
    """A binary file beside a WFDB header is read as that record only if the header names it as a signal
    file: ``100.atr`` is the record's beat annotations, not its samples."""
    hea = path.with_suffix(".hea")
    if path.name == hea.name:  # the header itself (a degree sign or other Latin-1 byte makes it not UTF-8)
        return
    text = read_header_text(hea)
    named = {s.file_name for s in text.signals}
    if text.segments or path.name in named:
        return
    shown = ", ".join(sorted(named)) or "none"
    raise RecordingError(path, "file", f"not a signal file of the record {hea.name} describes (its signal "
                                       f"files: {shown}); an annotation file? Open {hea.name} for the "
                                       "recording")


def open_recording(
    path: str | Path, *, csv_unit: str | None = None, csv_fs: float | None = None
) -> Recording:
    """Open a recording in any supported format; only the header is read now.

    Parameters
    ----------
    path
        The file; a WFDB record may be given as ``100``, ``100.hea`` or ``100.dat``.
    csv_unit
        Unit of CSV sample values (``mV`` when not given); ignored for other formats.
    csv_fs
        Sampling rate of a CSV without a time column (or overriding it); ignored for other formats.
    """
    recording = _open_any(Path(path), csv_unit, csv_fs)
    if not USUAL_FS[0] <= recording.fs <= USUAL_FS[1]:
        # allowed (a reader refuses only the impossible), but no ECG device records at this rate: a header
        # error is far likelier, and nothing downstream may take it silently
        recording.warnings = (*recording.warnings,
                              f"sampling rate {recording.fs:g} Hz is outside what ECG devices use "
                              f"({USUAL_FS[0]:g} to {USUAL_FS[1]:g} Hz): check the header")
    _drop_implausible_start(recording)
    return recording


#: No ECG was recorded before this; a header start date earlier than it is a damaged or unset field.
EARLIEST_START = datetime(1900, 1, 1)
#: A device clock may run ahead by its time zone (naive local times are common): a start up to a day
#: after now is kept, a later one is a wrong clock or a damaged field.
FUTURE_MARGIN = timedelta(days=1)


def _drop_implausible_start(recording: Recording) -> None:
    """A start before 1900 or in the future is read as unknown, with a warning naming the file and value.

    Kept, it would date the report, the billing period and the interface messages wrongly, and a start near
    9999-12-31 made the recording's end time overflow (``OverflowError`` out of the analysis)."""
    start = recording.start_time
    if start is None:
        return
    naive = start.astimezone(UTC).replace(tzinfo=None) if start.tzinfo is not None else start
    now = datetime.now(UTC).replace(tzinfo=None)
    if naive < EARLIEST_START:
        reason = "is before 1900, earlier than any ECG"
    elif naive > now + FUTURE_MARGIN:
        reason = f"is in the future (now {now:%Y-%m-%d %H:%M} UTC)"
    else:
        return
    name = recording.path.name if recording.path is not None else "recording"
    recording.start_time, recording.implausible_start = None, start
    recording.warnings = (*recording.warnings,
                          f"{name}: start date and time {start.isoformat()} {reason}: the header's date is "
                          "wrong (check the device clock); the recording start is read as unknown")


#: the sampling rates ECG devices use; outside them a recording is read with a warning
USUAL_FS = (50.0, 10_000.0)


def _open_any(path: Path, csv_unit: str | None, csv_fs: float | None) -> Recording:
    fmt = detect_format(path)
    if fmt is RecordingFormat.WFDB:
        if path.is_file() and path.suffix.lower() not in (".hea", ".dat") and \
                not looks_like_wfdb_header(_head(path).decode("utf-8", "replace")):
            path = path.with_suffix(".hea")  # a signal file such as A00001.mat beside its header
        return read_wfdb(path)
    if fmt is RecordingFormat.ISHNE:
        return read_ishne(path)
    if fmt is RecordingFormat.EDF:
        return read_edf(path)
    if fmt is RecordingFormat.DICOM:
        return read_dicom(path)
    if fmt is RecordingFormat.HL7_AECG:
        return read_hl7_aecg(path)
    return read_csv(path, unit=csv_unit, fs=csv_fs)


def recording_files(path: str | Path) -> list[Path]:
    """Every file the recording at ``path`` is read from: for WFDB the header, each signal file it names
    and, for a multi-segment record, each segment header with its files; otherwise the file itself.

    Side files (annotations, ``.evt``, a diary) are not included: the recording reads without them.
    """
    path = Path(path)
    if detect_format(path) is not RecordingFormat.WFDB:
        return [path]
    base = record_base(path)
    hea = base.with_name(base.name + ".hea")
    files = [hea]
    text = read_header_text(hea)
    headers = [text]
    for name, _length in text.segments:
        if name != "~":
            files.append(hea.with_name(f"{name}.hea"))
            headers.append(read_header_text(files[-1]))
    for header in headers:
        files += [hea.with_name(s.file_name) for s in header.signals if s.file_name != "~"]
    return list(dict.fromkeys(files))
