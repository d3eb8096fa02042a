"""The simulator's event spec and its schedule of non-overlapping episodes on the recording's timeline.

Spec: comma-separated ``type:COUNTxSIZE`` or ``type:RATE/h`` items, e.g.
``af:3x20m,flutter:1x10m,pause:5x3.2s,vt:4x8,svt:3x12,couplet:10x2,pvc:200/h,pac:50/h,avb2:2x1m,avb3:1x2m,brady:1x30m,
tachy:1x20m,trigger:6,leadoff:2x10m,noise:3x5m``. Sizes are durations (``s``, ``m``, ``h``) or beat counts
(a bare number, for ``vt``, ``svt`` and ``couplet``); ``pvc`` and ``pac`` are rates per hour of sinus rhythm;
``trigger:N`` places N patient-triggered markers (half of them during episodes). A JSON file with the same
items as an object (``{"af": "3x20m", "pvc": "200/h"}``) is accepted too.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgdesk import jsonfile
from ecgdesk.errors import InputError, is_digits


class EpisodeType(enum.StrEnum):
    AF = "af"
    FLUTTER = "flutter"
    PAUSE = "pause"
    VT = "vt"
    SVT = "svt"
    COUPLET = "couplet"
    PVC = "pvc"
    PAC = "pac"
    AVB2 = "avb2"
    AVB3 = "avb3"
    BRADY = "brady"
    TACHY = "tachy"
    LEAD_OFF = "lead_off"
    NOISE = "noise"


#: Spec names (``leadoff`` is accepted for ``lead_off``).
_NAMES = {**{t.value: t for t in EpisodeType}, "leadoff": EpisodeType.LEAD_OFF}
_BEAT_COUNTED = {EpisodeType.VT, EpisodeType.SVT, EpisodeType.COUPLET}
_RATED = {EpisodeType.PVC, EpisodeType.PAC}
#: The default events of each simulated day (counts scale with the days; rates stay per hour).
DEFAULT_SPEC = ("af:2x20m,pause:3x3.2s,vt:2x8,svt:2x12,couplet:6x2,pvc:60/h,pac:30/h,avb2:1x1m,avb3:1x2m,"
                "brady:1x20m,tachy:1x15m,trigger:6,leadoff:1x10m,noise:2x5m")
#: The default for recordings shorter than 6 hours.
SHORT_SPEC = ("af:1x4m,pause:2x3.2s,vt:1x8,svt:1x12,couplet:2x2,pvc:60/h,pac:30/h,avb2:1x1m,brady:1x2m,"
              "tachy:1x2m,trigger:2,noise:1x1m")


#: The default for recordings shorter than an hour.
MINI_SPEC = "pause:1x3.2s,couplet:1x2,pvc:60/h,pac:30/h,trigger:1"


def default_spec(total_s: float) -> EventSpec:
    """The default events for a recording of ``total_s`` seconds (DEFAULT_SPEC, SHORT_SPEC, MINI_SPEC)."""
    if total_s < 3600:
        return parse_event_spec(MINI_SPEC)
    if total_s < 6 * 3600:
        return parse_event_spec(SHORT_SPEC)
    base = parse_event_spec(DEFAULT_SPEC)
    days = total_s / 86400.0
    counts = {k: (max(1, round(c * days)), size) for k, (c, size) in base.counts.items()}
    return EventSpec(counts, base.rates_per_h, max(1, round(base.triggers * days)))


@dataclass(frozen=True)
class EventSpec:
    counts: dict[EpisodeType, tuple[int, float]]  # type -> (count, seconds or beats)
    rates_per_h: dict[EpisodeType, float]
    triggers: int


@dataclass(frozen=True)
class Scheduled:
    """One planned episode: where it starts and how long it lasts (beats for beat-counted types)."""

    type: EpisodeType
    start_s: float
    duration_s: float
    beats: int = 0


def _duration(text: str, where: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", text)
    if not match:
        raise InputError(where, f"a duration is a number with s, m or h (e.g. 20m, 3.2s), got {text!r}")
    value = float(match.group(1)) * {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]
    if value <= 0:
        raise InputError(where, f"must be positive, got {text!r}")
    return value


def parse_event_spec(spec: str | Path | None) -> EventSpec:
    """Parse a spec string or a JSON file (see the module docstring); errors name the item."""
    if spec is None or spec == "":
        spec = DEFAULT_SPEC
    items: list[tuple[str, str]] = []
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith(".json")):
        path = Path(spec)
        data = jsonfile.read(path, "events")
        if not isinstance(data, dict):
            raise InputError("events", "the event file must hold a JSON object", path)
        items = [(str(k), str(v)) for k, v in data.items()]
    else:
        for part in str(spec).split(","):
            name, sep, value = part.strip().partition(":")
            if not sep or not value:
                raise InputError("events", f"each item is type:value, got {part.strip()!r}")
            items.append((name.strip(), value.strip()))
    counts: dict[EpisodeType, tuple[int, float]] = {}
    rates: dict[EpisodeType, float] = {}
    triggers = 0
    for name, value in items:
        where = f"events.{name}"
        if name == "trigger":
            if not is_digits(value):
                raise InputError(where, f"give a number of triggers, got {value!r}")
            triggers = int(value)
            continue
        if name not in _NAMES:
            raise InputError("events", f"unknown event type {name!r}; known: {', '.join(sorted(_NAMES))}, "
                                       "trigger")
        kind = _NAMES[name]
        if kind in _RATED:
            match = re.fullmatch(r"(\d+(?:\.\d+)?)/h", value)
            if not match:
                raise InputError(where, f"{name} is a rate per hour such as 120/h, got {value!r}")
            rates[kind] = float(match.group(1))
            continue
        match = re.fullmatch(r"(\d+)x(.+)", value)
        if not match:
            raise InputError(where, f"give COUNTxSIZE such as 3x20m, got {value!r}")
        count, size = int(match.group(1)), match.group(2)
        if kind in _BEAT_COUNTED:
            if not is_digits(size) or int(size) < (2 if kind is EpisodeType.COUPLET else 3):
                raise InputError(where, f"{name} size is a number of beats (3 or more), got {size!r}")
            counts[kind] = (count, float(size))
        else:
            counts[kind] = (count, _duration(size, where))
    return EventSpec(counts, rates, triggers)


def schedule(spec: EventSpec, total_s: float, rng: np.random.Generator) -> list[Scheduled]:
    """Place the counted episodes at random, never overlapping, with 30 s of sinus rhythm around each."""
    wanted: list[tuple[EpisodeType, float, int]] = []
    for kind, (count, size) in spec.counts.items():
        for _ in range(count):
            if kind in _BEAT_COUNTED:
                wanted.append((kind, size * 0.4 + 1.0, int(size)))  # fast beats: about 0.4 s each
            else:
                wanted.append((kind, size, 0))
    busy: list[tuple[float, float]] = []
    placed: list[Scheduled] = []
    margin = 30.0
    # Longest first, so the short ones fill the gaps.
    for kind, duration, beats in sorted(wanted, key=lambda w: -w[1]):
        for _attempt in range(200):
            start = float(rng.uniform(60.0, max(61.0, total_s - duration - 60.0)))
            if all(start + duration + margin <= a or start >= b + margin for a, b in busy):
                busy.append((start, start + duration))
                placed.append(Scheduled(kind, start, duration, beats))
                break
        else:
            raise InputError("events", f"cannot fit every {kind.value} episode into {total_s / 3600:.1f} h "
                                       "without overlaps; ask for fewer or shorter episodes")
    return sorted(placed, key=lambda s: s.start_s)
