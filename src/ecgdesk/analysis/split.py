"""One long recording analysed in parts: per-segment detection and features, then one global merge.

:func:`ecgdesk.analysis.pipeline.analyze` streams the recording in ``chunk_s`` blocks whose cores tile it
exactly, each read with ``overlap_s`` of context on both sides. A split analysis cuts that same sequence
of blocks into *segments* of whole blocks (a day each by default):

1. :func:`plan_split` chooses the lead once for the whole recording (as ``analyze`` does) and the
   segments' sample ranges (multiples of the block length, so the blocks are exactly those of a
   single-process run);
2. :func:`analyze_segment` runs the streaming stage (quality states, QRS detection, beat features) on
   one segment's blocks; a block at a segment border still reads its overlap from the neighbouring
   segment, and keeps only the beats inside its own core, so a beat on a border is kept exactly once;
3. :func:`merge_segments` concatenates the segments in order and runs the global stages (beat
   classification with templates over the whole recording, rhythm, findings) once.

The segments are independent, so they can run on different workers; the merged result is the same as
the single-process ``analyze`` (the tests compare them field by field). :func:`save_segment` and
:func:`load_segment` carry a segment's output between processes (``.npz``, no pickle).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.pipeline import (
    AnalysisResult,
    BeatEngine,
    LeadChoice,
    Progress,
    StageTimes,
    _stream,
    choose_lead,
    classify_and_find,
    default_engine,
    diary_entries,
)
from ecgdesk.analysis.quality import epoch_length
from ecgdesk.errors import InputError, check_positive
from ecgdesk.records.recording import Recording

DAY_S = 86400.0
#: ``map(function, indices)``-like: runs the segments (in turn, on a pool, ...).
MapSegments = Callable[[Callable[[int], "SegmentResult"], list[int]], Iterable["SegmentResult"]]


@dataclass(frozen=True)
class Segment:
    """Samples ``[start, stop)`` of the recording: the cores of whole streaming blocks."""

    index: int
    start: int
    stop: int


@dataclass(frozen=True)
class SplitPlan:
    lead: LeadChoice
    segments: tuple[Segment, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead": self.lead.index,
            "lead_reason": self.lead.reason,
            "segments": [[s.start, s.stop] for s in self.segments],
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> SplitPlan:
        segments = tuple(Segment(i, int(a), int(b)) for i, (a, b) in enumerate(value["segments"]))
        return cls(LeadChoice(int(value["lead"]), str(value["lead_reason"])), segments)


def plan_split(
    recording: Recording,
    segment_s: float = DAY_S,
    lead: str | int | None = None,
    config: AnalysisConfig | None = None,
) -> SplitPlan:
    """The lead and the segments of ``segment_s`` (rounded to whole ``chunk_s`` blocks) of ``recording``.

    A last segment shorter than one epoch joins the one before it (too short to judge alone, the
    single-process run judges it from the block before).
    """
    config = config or AnalysisConfig()
    check_positive("segment_s", segment_s)
    step = max(1, int(round(config.chunk_s * recording.fs)))
    per = max(1, int(round(segment_s / config.chunk_s)))
    n = recording.n_samples
    n_blocks = -(-n // step)
    bounds = list(range(0, n_blocks, per))
    if len(bounds) > 1 and n - bounds[-1] * step < epoch_length(recording.fs, config):
        bounds.pop()
    edges = [b * step for b in bounds] + [n]
    segments = tuple(Segment(i, edges[i], edges[i + 1]) for i in range(len(bounds)))
    return SplitPlan(choose_lead(recording, lead, config), segments)


@dataclass
class SegmentResult:
    """The streaming stage's output on one segment (what :func:`merge_segments` needs)."""

    index: int
    start: int
    stop: int
    states: np.ndarray
    samples: np.ndarray
    origin: np.ndarray  # where each beat was read (pipeline.ON_LEAD, BRIDGED, OTHER_LEAD_EPOCH)
    features: Any  # the engine's features of the segment's beats (None without beats)
    times: StageTimes


def analyze_segment(
    recording: Recording,
    plan: SplitPlan,
    index: int,
    config: AnalysisConfig | None = None,
    engine: BeatEngine | None = None,
    progress: Progress | None = None,
) -> SegmentResult:
    """Quality, detection and features of segment ``index`` of ``plan``."""
    config = config or AnalysisConfig()
    engine = engine or default_engine()
    if not 0 <= index < len(plan.segments):
        raise InputError("index", f"the plan has segments 0..{len(plan.segments) - 1}, got {index}")
    segment = plan.segments[index]
    times = StageTimes()
    span = (segment.start, segment.stop)
    lead = plan.lead.index
    states, samples, origin, parts = _stream(recording, lead, config, progress, times, engine, span)
    features = engine.concat(parts) if parts else None
    return SegmentResult(index, segment.start, segment.stop, states, samples, origin, features, times)


def merge_segments(
    recording: Recording,
    plan: SplitPlan,
    results: Iterable[SegmentResult],
    diary: Path | None = None,
    config: AnalysisConfig | None = None,
    engine: BeatEngine | None = None,
) -> AnalysisResult:
    """Join every segment of ``plan`` in order and run the global stages once."""
    config = config or AnalysisConfig()
    engine = engine or default_engine()
    ordered = sorted(results, key=lambda r: r.index)
    got = [(r.start, r.stop) for r in ordered]
    want = [(s.start, s.stop) for s in plan.segments]
    if got != want:
        raise InputError("segments", f"the parts cover {got}, the plan has {want}")
    times = StageTimes()
    for r in ordered:
        for name in ("read_s", "quality_s", "detect_s", "features_s"):
            setattr(times, name, getattr(times, name) + getattr(r.times, name))
    states = np.concatenate([r.states for r in ordered])
    samples = np.concatenate([r.samples for r in ordered])
    origin = np.concatenate([r.origin.astype(np.int8) for r in ordered])
    parts = [r.features for r in ordered if r.features is not None]
    entries = diary_entries(recording, diary)
    return classify_and_find(
        recording, plan.lead, states, samples, origin, parts, entries, config, engine, times
    )


def analyze_split(
    recording: Recording,
    segment_s: float = DAY_S,
    lead: str | int | None = None,
    diary: Path | None = None,
    config: AnalysisConfig | None = None,
    engine: BeatEngine | None = None,
    map_segments: MapSegments | None = None,
) -> AnalysisResult:
    """Plan, analyse every segment (with ``map_segments``, e.g. a pool's ``map``; default in turn) and
    merge: the same result as :func:`~ecgdesk.analysis.pipeline.analyze`."""
    config = config or AnalysisConfig()
    engine = engine or default_engine()
    plan = plan_split(recording, segment_s, lead, config)

    def one(index: int) -> SegmentResult:
        return analyze_segment(recording, plan, index, config, engine)

    indices = list(range(len(plan.segments)))
    results = list(map_segments(one, indices) if map_segments is not None else map(one, indices))
    return merge_segments(recording, plan, results, diary, config, engine)


# ------------------------------------------------------------------------------ carrying a segment
_ALLOWED_FEATURE_MODULES = ("ecgdesk.",)


def save_segment(result: SegmentResult, path: Path) -> Path:
    """Write ``result`` to ``path`` (``.npz``; written under a temporary name and renamed into place).

    The features are an array, or a dataclass of arrays from an ``ecgdesk`` module (the default
    engine's :class:`~ecgdesk.analysis.beats.BeatFeatures`).
    """
    arrays: dict[str, np.ndarray] = {
        "states": result.states,
        "samples": result.samples,
        "origin": result.origin,
    }
    meta: dict[str, Any] = {
        "index": result.index,
        "start": result.start,
        "stop": result.stop,
        "times": dataclasses.asdict(result.times),
        "features": None,
    }
    features = result.features
    if isinstance(features, np.ndarray):
        arrays["features"] = features
        meta["features"] = "ndarray"
    elif features is not None:
        cls = type(features)
        if not dataclasses.is_dataclass(features) or not cls.__module__.startswith(_ALLOWED_FEATURE_MODULES):
            raise InputError("features", f"cannot store features of type {cls.__module__}.{cls.__qualname__}")
        for f in dataclasses.fields(features):
            arrays[f"features.{f.name}"] = np.asarray(getattr(features, f.name))
        meta["features"] = f"{cls.__module__}:{cls.__qualname__}"
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_segment(path: Path) -> SegmentResult:
    """Read a segment written by :func:`save_segment`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode("utf-8"))
        kind = meta["features"]
        features: Any = None
        if kind == "ndarray":
            features = data["features"]
        elif kind is not None:
            module, _, name = str(kind).partition(":")
            if not module.startswith(_ALLOWED_FEATURE_MODULES):
                raise InputError("features", f"refusing to load features of type {kind}", path)
            cls = getattr(importlib.import_module(module), name)
            prefix = "features."
            features = cls(**{k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix)})
        return SegmentResult(
            int(meta["index"]),
            int(meta["start"]),
            int(meta["stop"]),
            data["states"],
            data["samples"],
            data["origin"],
            features,
            StageTimes(**meta["times"]),
        )
