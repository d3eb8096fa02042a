"""The exercise test protocol file: stages with their times, speed and grade, blood pressure, symptoms.

Schema (JSON; documented with an example in docs/stress.md)::

    {
      "protocol": "bruce",                       # or "modified_bruce", "custom"
      "patient": {"age": 58, "sex": "M"},
      "stages": [                                # times in seconds from the start of the recording
        {"name": "rest", "phase": "pretest", "start_s": 0, "end_s": 120, "bp": [128, 80]},
        {"name": "1", "phase": "exercise", "start_s": 120, "end_s": 300, "speed_mph": 1.7,
         "grade_pct": 10, "bp": [146, 82]},
        {"name": "recovery 1", "phase": "recovery", "start_s": 660, "end_s": 720, "bp": [150, 80]}
      ],
      "symptoms": [{"time_s": 600, "text": "chest tightness", "angina": "non_limiting"}],
      "reason_stopped": "target heart rate reached",
      "angina_index": "none",                     # none | non_limiting | limiting (Duke score)
      "supervisor": {"name": "Dr. A. Reader", "npi": "1234567893"}   # optional: who supervised
    }
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgdesk import jsonfile
from ecgdesk.errors import InputError, check_option, is_digits


class Phase(enum.StrEnum):
    PRETEST = "pretest"
    EXERCISE = "exercise"
    RECOVERY = "recovery"


class Angina(enum.IntEnum):
    """The Duke treadmill score's angina index."""

    NONE = 0
    NON_LIMITING = 1
    LIMITING = 2

    @classmethod
    def parse(cls, value: Any, field_name: str, source: str | None) -> Angina:
        names = {"none": cls.NONE, "non_limiting": cls.NON_LIMITING, "limiting": cls.LIMITING}
        check_option(field_name, value, list(names), source)
        return names[str(value)]


_PHASE_ORDER = {Phase.PRETEST: 0, Phase.EXERCISE: 1, Phase.RECOVERY: 2}

#: Bruce protocol stages (mph, % grade), 3 minutes each.
BRUCE_STAGES: tuple[tuple[float, float], ...] = (
    (1.7, 10.0), (2.5, 12.0), (3.4, 14.0), (4.2, 16.0), (5.0, 18.0), (5.5, 20.0), (6.0, 22.0),
)
BRUCE_STAGE_S = 180.0


@dataclass(frozen=True)
class Stage:
    name: str
    phase: Phase
    start_s: float
    end_s: float
    speed_mph: float | None = None
    grade_pct: float | None = None
    systolic: int | None = None
    diastolic: int | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Symptom:
    time_s: float
    text: str
    angina: Angina = Angina.NONE


@dataclass
class StressProtocol:
    protocol: str
    age: int
    sex: str
    stages: list[Stage]
    symptoms: list[Symptom] = field(default_factory=list)
    reason_stopped: str = ""
    angina_index: Angina = Angina.NONE
    source: str | None = None
    #: The physician who supervised the test (a separately billed part), when the protocol names one.
    supervisor: str = ""
    supervisor_npi: str | None = None

    @property
    def exercise_stages(self) -> list[Stage]:
        return [s for s in self.stages if s.phase is Phase.EXERCISE]

    @property
    def exercise_start_s(self) -> float:
        stages = self.exercise_stages
        return stages[0].start_s if stages else 0.0

    @property
    def exercise_end_s(self) -> float:
        stages = self.exercise_stages
        return stages[-1].end_s if stages else 0.0

    @property
    def exercise_time_s(self) -> float:
        return self.exercise_end_s - self.exercise_start_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "patient": {"age": self.age, "sex": self.sex},
            "stages": [
                {"name": s.name, "phase": s.phase.value, "start_s": s.start_s, "end_s": s.end_s,
                 **({"speed_mph": s.speed_mph} if s.speed_mph is not None else {}),
                 **({"grade_pct": s.grade_pct} if s.grade_pct is not None else {}),
                 **({"bp": [s.systolic, s.diastolic]} if s.systolic is not None else {})}
                for s in self.stages
            ],
            "symptoms": [{"time_s": s.time_s, "text": s.text, "angina": s.angina.name.lower()}
                         for s in self.symptoms],
            "reason_stopped": self.reason_stopped,
            "angina_index": self.angina_index.name.lower(),
            **({"supervisor": {"name": self.supervisor, **({"npi": self.supervisor_npi}
                                                            if self.supervisor_npi else {})}}
               if self.supervisor else {}),
        }


def _number(data: dict[str, Any], key: str, where: str, source: str | None, *, required: bool = True,
            minimum: float | None = None) -> float | None:
    if key not in data or data[key] is None:
        if required:
            raise InputError(f"{where}.{key}", "is required", source)
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InputError(f"{where}.{key}", f"must be a number, got {value!r}", source)
    if minimum is not None and value < minimum:
        raise InputError(f"{where}.{key}", f"must be >= {minimum:g}, got {value!r}", source)
    return float(value)


def _stage(raw: Any, index: int, source: str | None) -> Stage:
    where = f"stages[{index}]"
    if not isinstance(raw, dict):
        raise InputError(where, f"must be an object, got {type(raw).__name__}", source)
    phase = Phase(check_option(f"{where}.phase", raw.get("phase"), [p.value for p in Phase], source))
    start = _number(raw, "start_s", where, source, minimum=0.0)
    end = _number(raw, "end_s", where, source, minimum=0.0)
    assert start is not None and end is not None
    if end <= start:
        raise InputError(f"{where}.end_s", f"must be after start_s ({start:g}), got {end:g}", source)
    systolic = diastolic = None
    if raw.get("bp") is not None:
        bp = raw["bp"]
        valid = isinstance(bp, list) and len(bp) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and 20 <= v <= 300 for v in bp)
        if not valid:
            raise InputError(f"{where}.bp", f"must be [systolic, diastolic] in mmHg (20-300), got {bp!r}",
                             source)
        systolic, diastolic = int(bp[0]), int(bp[1])
    return Stage(
        name=str(raw.get("name", index + 1)), phase=phase, start_s=start, end_s=end,
        speed_mph=_number(raw, "speed_mph", where, source, required=False, minimum=0.0),
        grade_pct=_number(raw, "grade_pct", where, source, required=False),
        systolic=systolic, diastolic=diastolic,
    )


def protocol_from_dict(data: Any, source: str | None = None) -> StressProtocol:
    """Validate a protocol document; every error names the field."""
    if not isinstance(data, dict):
        raise InputError("protocol", f"must be a JSON object, got {type(data).__name__}", source)
    patient = data.get("patient")
    if not isinstance(patient, dict):
        raise InputError("patient", "is required: an object with age and sex", source)
    age = _number(patient, "age", "patient", source, minimum=1.0)
    assert age is not None
    if age > 120:
        raise InputError("patient.age", f"must be at most 120, got {age:g}", source)
    sex = str(check_option("patient.sex", patient.get("sex", "U"), ["M", "F", "U"], source))
    stages_raw = data.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise InputError("stages", "must be a non-empty list of stages", source)
    indexed = sorted(((i, _stage(s, i, source)) for i, s in enumerate(stages_raw)),
                     key=lambda pair: pair[1].start_s)
    for (_, before), (index, after) in itertools.pairwise(indexed):
        if after.start_s < before.end_s - 1e-6:
            raise InputError("stages", f"stage {after.name!r} starts at {after.start_s:g} s, before stage "
                                       f"{before.name!r} ends ({before.end_s:g} s)", source)
        # A test runs pretest, exercise, recovery: a stage back in an earlier phase (exercise after
        # recovery, a "rest" after exercise) made the recovery count as exercise time and the post-exercise
        # rate the resting one.
        if _PHASE_ORDER[after.phase] < _PHASE_ORDER[before.phase]:
            raise InputError(f"stages[{index}].phase",
                             f"stage {after.name!r} ({after.phase.value}, from {after.start_s:g} s) comes "
                             f"after stage {before.name!r} ({before.phase.value}): the phases must run "
                             f"pretest, exercise, recovery", source)
    stages = [stage for _, stage in indexed]
    if not any(s.phase is Phase.EXERCISE for s in stages):
        raise InputError("stages", "no stage has phase 'exercise'", source)
    symptoms = []
    for i, raw in enumerate(data.get("symptoms") or []):
        if not isinstance(raw, dict):
            raise InputError(f"symptoms[{i}]", "must be an object", source)
        time_s = _number(raw, "time_s", f"symptoms[{i}]", source, minimum=0.0)
        assert time_s is not None
        symptoms.append(Symptom(time_s, str(raw.get("text", "")),
                                Angina.parse(raw.get("angina", "none"), f"symptoms[{i}].angina", source)))
    angina = Angina.parse(data.get("angina_index", "none"), "angina_index", source)
    supervisor = data.get("supervisor") or {}
    if not isinstance(supervisor, dict) or (supervisor and not str(supervisor.get("name", "")).strip()):
        raise InputError("supervisor", "must be an object with the supervising physician's name (and npi)",
                         source)
    npi = supervisor.get("npi")
    if npi is not None and not (isinstance(npi, str) and len(npi) == 10 and is_digits(npi)):
        raise InputError("supervisor.npi", f"must be a 10-digit NPI, got {npi!r}", source)
    # The index is the worst angina recorded, whichever way it was given.
    angina = max([angina, *(s.angina for s in symptoms)])
    return StressProtocol(
        protocol=str(data.get("protocol", "custom")), age=int(age), sex=sex, stages=stages, symptoms=symptoms,
        reason_stopped=str(data.get("reason_stopped", "")), angina_index=Angina(angina), source=source,
        supervisor=str(supervisor.get("name", "")).strip(), supervisor_npi=npi,
    )


def load_protocol(path: Path) -> StressProtocol:
    """Read and validate a protocol JSON file."""
    return protocol_from_dict(jsonfile.read(path, "protocol"), str(path))


def bruce_protocol(age: int, sex: str, exercise_s: float, pretest_s: float = 120.0,
                   recovery_s: float = 360.0) -> StressProtocol:
    """A standard Bruce protocol of ``exercise_s`` seconds of exercise (used by the simulator and tests)."""
    stages = [Stage("rest", Phase.PRETEST, 0.0, pretest_s)]
    t = pretest_s
    for number, (speed, grade) in enumerate(BRUCE_STAGES, start=1):
        if t >= pretest_s + exercise_s:
            break
        end = min(t + BRUCE_STAGE_S, pretest_s + exercise_s)
        stages.append(Stage(str(number), Phase.EXERCISE, t, end, speed, grade))
        t = end
    minute = 0
    while recovery_s - minute * 60.0 > 0:
        start = t + minute * 60.0
        length = min(60.0, recovery_s - minute * 60.0)
        stages.append(Stage(f"recovery {minute + 1}", Phase.RECOVERY, start, start + length))
        minute += 1
    return StressProtocol("bruce", age, sex, stages)
