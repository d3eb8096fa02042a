"""Typed results of the ambulatory (Holter / patch) analysis and their versioned JSON form.

:class:`Findings` is what ``ecgdesk analyze`` writes to ``findings.json`` and what reports, the workflow
and coding read. It never holds the beats themselves (1.5 M rows over 14 days): ``beats_file`` names the
``beats.csv`` written beside it. :func:`findings_to_dict` / :func:`findings_from_dict` convert to and from
plain JSON data; the layout is documented in ``docs/findings-schema.md``.

Times: ``*_s`` fields are seconds from the first sample of the recording; ``*_sample`` fields are sample
indices at the recording's sampling rate; clock times are ISO 8601 strings (``None`` where the recording
has no start time).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecgdesk.errors import InputError

SCHEMA_VERSION = "1.1"
ALGORITHM_VERSION = "ecgdesk-ambulatory 0.5.46"
BEAT_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")


class EpisodeType(enum.StrEnum):
    """Kinds of episode the scanning analysis reports."""

    AF = "af"
    FLUTTER = "flutter"
    PAUSE = "pause"
    VT = "vt"
    SVT = "svt"
    COUPLET = "couplet"
    TRIPLET = "triplet"
    BIGEMINY = "bigeminy"
    TRIGEMINY = "trigeminy"
    BRADY = "brady"
    TACHY = "tachy"
    AVB2 = "avb2"
    AVB3 = "avb3"
    NOISE = "noise"
    LEAD_OFF = "lead_off"
    VF = "vf"  # ventricular flutter or fibrillation: no countable QRS, not noise


class Rhythm(enum.StrEnum):
    """Rhythm label at a point in time (patient events, strips)."""

    SINUS = "sinus"
    SINUS_BRADY = "sinus_brady"
    SINUS_TACHY = "sinus_tachy"
    AF = "af"
    FLUTTER = "flutter"
    VT = "vt"
    SVT = "svt"
    PAUSE = "pause"
    AV_BLOCK = "av_block"
    VF = "vf"  # ventricular flutter or fibrillation
    UNANALYZABLE = "unanalyzable"


class EpochState(enum.StrEnum):
    """State of one quality epoch, one character each in :attr:`QualityEpochs.states`."""

    ANALYZABLE = "A"
    NOISE = "N"
    LEAD_OFF = "L"
    VENTRICULAR = "V"  # ventricular flutter or fibrillation


class MessageLevel(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"


class EventSource(enum.StrEnum):
    """Where a patient-triggered event came from."""

    MARKER = "marker"
    DIARY = "diary"


@dataclass(frozen=True)
class Episode:
    """One episode: an AF stretch, a pause, a V run, a noisy stretch ...

    ``end_s``/``end_sample`` are exclusive for spans; for a pause they are the beat ending the pause.
    ``sustained`` marks VT/SVT lasting at least the configured 30 s; ``suspected`` marks findings that need
    over-read (AV block), with ``evidence`` saying what the algorithm saw.
    """

    type: EpisodeType
    start_s: float
    end_s: float
    start_sample: int
    end_sample: int
    n_beats: int = 0
    mean_rate_bpm: float | None = None
    max_rate_bpm: float | None = None
    evidence: str = ""
    sustained: bool = False
    suspected: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class RecordingInfo:
    """What was analysed: the file, its format, rate and length, and the lead chosen."""

    record_name: str | None
    path: str | None
    format: str
    fs: float
    n_samples: int
    duration_s: float
    lead: str
    leads: list[str]
    lead_choice: str = ""
    patient_id: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class HeartRatePoint:
    """A heart rate and when it occurred (the middle of its averaging window)."""

    bpm: float
    time_s: float
    clock_time: str | None = None


@dataclass(frozen=True)
class HeartRateSummary:
    """Minimum, mean and maximum heart rate over analyzable time (``window_beats``-beat averages)."""

    min: HeartRatePoint | None = None
    mean_bpm: float | None = None
    max: HeartRatePoint | None = None
    window_beats: int = 8


@dataclass(frozen=True)
class EctopySummary:
    """Ectopic beat counts, run counts and burdens (% of all classified beats)."""

    v_total: int = 0
    v_isolated: int = 0
    v_couplets: int = 0
    v_triplets: int = 0
    v_runs: int = 0
    v_runs_sustained: int = 0
    v_longest_run_beats: int = 0
    v_fastest_run_bpm: float | None = None
    v_bigeminy_episodes: int = 0
    v_trigeminy_episodes: int = 0
    v_burden_pct: float = 0.0
    s_total: int = 0
    s_isolated: int = 0
    s_couplets: int = 0
    svt_runs: int = 0
    s_longest_run_beats: int = 0
    s_fastest_run_bpm: float | None = None
    s_burden_pct: float = 0.0


@dataclass(frozen=True)
class PauseSummary:
    """Pauses (RR intervals at or above the thresholds) and the longest RR interval."""

    threshold_s: float = 2.0
    count: int = 0
    long_threshold_s: float = 3.0
    long_count: int = 0
    longest_s: float | None = None
    longest_time_s: float | None = None


@dataclass(frozen=True)
class HRVSummary:
    """Time-domain HRV on normal-to-normal intervals (Task Force 1996), in ms and %."""

    n_nn: int = 0
    sdnn_ms: float | None = None
    sdann_ms: float | None = None
    rmssd_ms: float | None = None
    pnn50_pct: float | None = None


@dataclass(frozen=True)
class Summary:
    """The Holter summary page."""

    recording: RecordingInfo
    start_time: str | None
    end_time: str | None
    wear_time_s: float
    analyzable_time_s: float
    analyzable_pct: float
    total_beats: int
    beats_by_class: dict[str, int]
    heart_rate: HeartRateSummary
    ectopy: EctopySummary
    af_burden_pct: float
    af_time_s: float
    pauses: PauseSummary
    hrv: HRVSummary


@dataclass(frozen=True)
class HourRow:
    """One row of the hourly table (hour ``index`` starts ``start_s`` after the first sample)."""

    index: int
    start_s: float
    clock_time: str | None
    beats: int
    min_hr_bpm: float | None
    mean_hr_bpm: float | None
    max_hr_bpm: float | None
    v_beats: int
    s_beats: int
    af_s: float
    analyzable_s: float


@dataclass(frozen=True)
class HeartRateTrend:
    """Mean heart rate per ``interval_s`` (``None`` where not analyzable), for the trend plot."""

    interval_s: float = 60.0
    bpm: list[float | None] = field(default_factory=list)


@dataclass(frozen=True)
class TemplateSummary:
    """A morphology template for the report and for relabelling a whole template at once."""

    template_id: int
    label: str
    n_beats: int
    waveform: list[float]
    fs: float
    fiducial: int = 0


@dataclass(frozen=True)
class PatientEvent:
    """A patient-triggered event (marker or diary row) with the rhythm and heart rate at that time."""

    time_s: float
    symptom: str
    source: EventSource
    rhythm: Rhythm
    hr_bpm: float | None = None
    clock_time: str | None = None
    episodes: list[EpisodeType] = field(default_factory=list)


@dataclass(frozen=True)
class QualityEpochs:
    """Per-epoch signal state, compact: one :class:`EpochState` character per ``epoch_s`` epoch."""

    epoch_s: float = 10.0
    states: str = ""

    @property
    def n_analyzable(self) -> int:
        return self.states.count(EpochState.ANALYZABLE.value)


@dataclass(frozen=True)
class Message:
    """A note for the technician, e.g. "no analyzable signal"."""

    level: MessageLevel
    code: str
    text: str


@dataclass(frozen=True)
class Findings:
    """Everything the scanning analysis found, as written to ``findings.json``."""

    summary: Summary
    episodes: list[Episode] = field(default_factory=list)
    hourly: list[HourRow] = field(default_factory=list)
    hr_trend: HeartRateTrend = field(default_factory=HeartRateTrend)
    templates: list[TemplateSummary] = field(default_factory=list)
    patient_events: list[PatientEvent] = field(default_factory=list)
    quality: QualityEpochs = field(default_factory=QualityEpochs)
    messages: list[Message] = field(default_factory=list)
    beats_file: str | None = None
    annotation_file: str | None = None
    config: dict[str, float] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION
    algorithm_version: str = ALGORITHM_VERSION

    def episodes_of(self, *kinds: EpisodeType) -> list[Episode]:
        """Episodes of the given types, in time order."""
        return [e for e in self.episodes if e.type in kinds]


# ----------------------------------------------------------------------------------- (de)serialisation
def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_plain(v) for k, v in value.items()}
    return value


def findings_to_dict(findings: Findings) -> dict[str, Any]:
    """Plain JSON-ready data of ``findings`` (``schema_version`` and ``algorithm_version`` first)."""
    data = _to_plain(findings)
    head = {"schema_version": data.pop("schema_version"), "algorithm_version": data.pop("algorithm_version")}
    return {**head, **data}


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _build(tp: Any, value: Any, where: str, source: str | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _build(inner[0], value, where, source)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise InputError(where or "findings", f"expected an object, got {type(value).__name__}", source)
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            name = f"{where}.{f.name}" if where else f.name
            if f.name in value:
                kwargs[f.name] = _build(hints[f.name], value[f.name], name, source)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InputError(name, "required field is missing", source)
        return tp(**kwargs)
    if origin is list:
        if not isinstance(value, list):
            raise InputError(where, f"expected a list, got {type(value).__name__}", source)
        return [_build(args[0], v, f"{where}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise InputError(where, f"expected an object, got {type(value).__name__}", source)
        return {str(k): _build(args[1], v, f"{where}.{k}", source) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            reason = f"invalid value {value!r}; allowed values are {allowed}"
            raise InputError(where, reason, source) from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(where, f"expected a number, got {value!r}", source)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(where, f"expected an integer, got {value!r}", source)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(where, f"expected true or false, got {value!r}", source)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InputError(where, f"expected a string, got {value!r}", source)
        return value
    raise TypeError(f"findings schema has an unsupported type {tp!r} at {where}")  # a bug, not input


def findings_from_dict(data: Mapping[str, Any], source: str | None = None) -> Findings:
    """Rebuild :class:`Findings` from :func:`findings_to_dict` data (e.g. a loaded ``findings.json``).

    A schema of another major version, a missing field or a value of the wrong type raises
    :class:`~ecgdesk.errors.InputError` naming ``source``, the field path and the reason.
    """
    if not isinstance(data, Mapping):
        raise InputError("findings", f"expected a JSON object, got {type(data).__name__}", source)
    version = data.get("schema_version")
    if not isinstance(version, str):
        raise InputError("schema_version", "required field is missing or not a string", source)
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise InputError("schema_version", f"version {version!r} is not supported; this ecgdesk reads "
                         f"{SCHEMA_VERSION.split('.')[0]}.x", source)
    findings: Findings = _build(Findings, data, "", source)
    return findings
