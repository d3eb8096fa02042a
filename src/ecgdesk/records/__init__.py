"""Recordings: one :class:`Recording` type, readers and writers per format, and the simulator."""

from ecgdesk.records.annotations import BeatAnnotations, read_beat_annotations
from ecgdesk.records.open import detect_format, open_recording, recording_files
from ecgdesk.records.recording import (
    ArraySource,
    Chunk,
    EventKind,
    EventMarker,
    Lead,
    PatientInfo,
    Recording,
    RecordingFormat,
    SignalSource,
)
from ecgdesk.records.writers import open_writer, write_beat_annotations, write_recording

__all__ = [
    "ArraySource",
    "BeatAnnotations",
    "Chunk",
    "EventKind",
    "EventMarker",
    "Lead",
    "PatientInfo",
    "Recording",
    "RecordingFormat",
    "SignalSource",
    "detect_format",
    "open_recording",
    "open_writer",
    "read_beat_annotations",
    "recording_files",
    "write_beat_annotations",
    "write_recording",
]
