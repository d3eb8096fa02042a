"""The messages of an ambulatory analysis: what the reader had to guess, drop or skip, and what needs an
over-read. They come first in the findings: the technician reads them before the numbers."""

from __future__ import annotations

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.findings import Episode, Message, MessageLevel
from ecgdesk.analysis.quality import VENTRICULAR


def analysis_messages(
    recording_warnings: list[str],
    lead_name: str,
    duration_s: float,
    states: np.ndarray,
    analyzable_s: float,
    n_missed: int,
    av_block: list[Episode],
    config: AnalysisConfig,
) -> list[Message]:
    """The reader's warnings, VF epochs, no or little analyzable signal, long RR intervals dropped as pauses
    for a complex the detector did not count (``n_missed``), and suspected AV block episodes."""
    messages = [Message(MessageLevel.WARNING, "recording", text) for text in recording_warnings]
    n_vf = int(np.count_nonzero(states == VENTRICULAR))
    if n_vf:
        messages.append(
            Message(
                MessageLevel.WARNING,
                "ventricular_fibrillation",
                f"ventricular flutter or fibrillation on lead {lead_name}: {n_vf} epochs of "
                f"{config.epoch_s:g} s without countable QRS complexes; review the strips",
            )
        )
    if analyzable_s == 0:
        messages.append(
            Message(
                MessageLevel.WARNING,
                "no_analyzable_signal",
                f"no analyzable signal on lead {lead_name}: every {config.epoch_s:g} s epoch is "
                + ("flat, railed, missing, noisy or ventricular flutter/fibrillation" if n_vf
                   else "flat, railed, missing or noisy") + "; no beats were analysed",
            )
        )
    elif analyzable_s < 0.5 * duration_s:
        messages.append(
            Message(
                MessageLevel.WARNING,
                "low_analyzable_time",
                f"only {analyzable_s / 3600:.1f} h of {duration_s / 3600:.1f} h is analyzable",
            )
        )
    if n_missed:
        messages.append(
            Message(
                MessageLevel.INFO,
                "long_rr_with_undetected_complex",
                f"{n_missed} RR intervals of {config.pause_s:g} s or more hold a QRS-sized complex the "
                "detector did not count; they are not reported as pauses",
            )
        )
    if any(e.suspected for e in av_block):
        messages.append(
            Message(
                MessageLevel.INFO,
                "av_block_suspected",
                "suspected AV block episodes need over-read of the strips",
            )
        )
    return messages
