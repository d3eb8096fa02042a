"""Recordings: one :class:`Recording` type, readers and writers per format, and the simulator."""

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

__all__ = [
    "ArraySource",
    "Chunk",
    "EventKind",
    "EventMarker",
    "Lead",
    "PatientInfo",
    "Recording",
    "RecordingFormat",
    "SignalSource",
]
