"""Thresholds of the ambulatory analysis, with their clinical defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ecgdesk.errors import InputError, check_positive


@dataclass(frozen=True)
class AnalysisConfig:
    """Every threshold the scanning analysis uses; the defaults follow common Holter practice.

    Rates are in beats per minute, durations in seconds.
    """

    # streaming
    chunk_s: float = 600.0
    overlap_s: float = 2.0
    # the other leads bridge the analysed lead where it loses its signal (beats labelled Q)
    backup_leads: bool = True
    # signal quality (per epoch)
    epoch_s: float = 10.0
    # lead off: range below this share of the recording's typical epoch range, railed, or a constant block
    flat_fraction: float = 0.05
    rail_fraction: float = 0.5
    const_block_s: float = 2.0
    const_fraction: float = 0.001
    # noise: the inter-beat floor of the QRS-band energy (share of the beats' energy) above the high
    # limit, or above the low limit and this factor times the recording's typical floor
    noise_floor_high: float = 0.1
    noise_floor_low: float = 0.03
    noise_floor_factor: float = 4.0
    # muscle noise: 40-150 Hz RMS over the QRS amplitude above the high limit, or above the low limit
    # and noise_floor_factor times the recording's typical ratio
    noise_hf_high: float = 0.15
    noise_hf_low: float = 0.05
    # noise at the edge of a run (``quality.is_noise`` on the run's span)
    noise_kurtosis: float = 4.0
    noise_min_mv: float = 0.04
    noise_hf_ratio: float = 0.4
    # pauses
    pause_s: float = 2.0
    long_pause_s: float = 3.0
    # sinus rate episodes (smoothed rate sustained for a minimum time)
    brady_bpm: float = 50.0
    tachy_bpm: float = 100.0
    rate_window_beats: int = 8
    rate_episode_min_s: float = 30.0
    # ventricular and supraventricular runs
    vt_min_beats: int = 3
    vt_rate_bpm: float = 100.0
    sustained_s: float = 30.0
    # 3 (as for VT, and as MIT-BIH marks SVTA) found more of the shared SVTA but made 3-beat runs of noise
    # on handheld strips urgent "SVT over 180" events (docs/analysis.md, algorithm 0.5.37)
    svt_min_beats: int = 4
    svt_rate_bpm: float = 100.0
    svt_same_p: float = 0.8
    svt_sustained_min_bpm: float = 130.0
    # bigeminy / trigeminy: at least this many ectopic beats in the pattern
    geminy_min_ectopics: int = 3
    # atrial fibrillation from RR irregularity
    af_window_beats: int = 32
    af_on: float = 0.10
    af_off: float = 0.07
    af_min_s: float = 30.0
    af_merge_gap_s: float = 10.0
    af_p_consistency: float = 0.5
    af_pattern_ratio: float = 0.2
    # an AF episode needs this many RR pairs between normal beats (no ectopic beat beside them) to be
    # judged on them (rhythm.confirm_af)
    af_underlying_pairs: int = 8
    # AV block (suspected): P waves inside long RR intervals
    avb_rr_factor: float = 1.6
    avb3_max_bpm: float = 45.0
    # HRV segments
    sdann_segment_s: float = 300.0
    hr_trend_s: float = 60.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if f.name == "overlap_s":
                if value < 0:
                    raise InputError("config.overlap_s", f"must be >= 0, got {value}")
                continue
            check_positive(f"config.{f.name}", value)
        if self.long_pause_s < self.pause_s:
            raise InputError(
                "config.long_pause_s", f"must be >= pause_s ({self.pause_s}), got {self.long_pause_s}"
            )
        if self.af_off > self.af_on:
            raise InputError("config.af_off", f"must be <= af_on ({self.af_on}), got {self.af_off}")
        ratio = self.chunk_s / self.epoch_s
        if abs(ratio - round(ratio)) > 1e-9:
            raise InputError(
                "config.chunk_s", f"must be a whole number of epochs ({self.epoch_s} s), got {self.chunk_s}"
            )

    def as_dict(self) -> dict[str, float]:
        # flags are written as 1.0 / 0.0: the findings schema keeps the configuration as numbers
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)}
