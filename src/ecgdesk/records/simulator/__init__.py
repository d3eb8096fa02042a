"""ECG simulator: multi-day ambulatory recordings with exact event truth, and exercise tests."""

from ecgdesk.records.simulator.ambulatory import SimulationConfig, SimulationResult, simulate
from ecgdesk.records.simulator.events import DEFAULT_SPEC, EpisodeType, parse_event_spec
from ecgdesk.records.simulator.exercise import ExerciseConfig, ExerciseOutput, simulate_exercise

__all__ = [
    "DEFAULT_SPEC",
    "EpisodeType",
    "ExerciseConfig",
    "ExerciseOutput",
    "SimulationConfig",
    "SimulationResult",
    "parse_event_spec",
    "simulate",
    "simulate_exercise",
]
