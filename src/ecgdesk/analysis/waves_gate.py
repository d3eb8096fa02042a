"""The quality gate of the whole-recording delineation (:mod:`ecgdesk.analysis.waves`, waves-1.7).

The block-by-block delineation finds its QRS fiducials from the spatial energy of the block's leads,
with thresholds that follow the block's energy: in noise it finds "beats", and their P, QRS and T marks
are noise. Each block's leads first go through the ambulatory quality gate (:mod:`ecgdesk.analysis.quality`:
noise, lead-off and ventricular fibrillation are not analyzable), per lead and 5 s epoch; and a fiducial
is kept only where the ambulatory QRS detector, the one the gate counts beats with, finds an R peak near
it on a lead analyzable there (noise the gate lets through at moderate levels still has "beats" that the
robust detector does not confirm). Measured under noise in docs/delineate.md, "waves-1.7".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgdesk.analysis.config import AnalysisConfig
from ecgdesk.analysis.quality import epoch_states, sample_analyzable

#: The gate's epoch here (s): half the ambulatory analysis's 10 s. A stretch of noise rarely starts on an
#: epoch border, and the epoch that holds its edge is lost whole, clean half included; with NSTDB-style
#: muscle noise over QT Database records the clean beats kept rose and the noise "beats" fell at once
#: against 10 s epochs (docs/delineate.md, waves-1.7).
GATE_EPOCH_S = 5.0
#: A fiducial of the block's own detector that the ambulatory QRS detector does not confirm within this
#: (seconds) on a lead analyzable there is noise the gate let through.
CONFIRM_S = 0.1


@dataclass(frozen=True)
class BlockQuality:
    """What the quality gate says of one block: per sample and lead whether it is analyzable, and the R
    peaks the ambulatory detector finds on each lead (block sample indices)."""

    analyzable: np.ndarray
    peaks: tuple[np.ndarray, ...]

    def confirms(self, fiducial: int, leads: np.ndarray, within: int) -> bool:
        """Whether a detector R peak lies within ``within`` samples of ``fiducial`` on one of ``leads``."""
        for lead in np.flatnonzero(leads):
            peaks = self.peaks[lead]
            at = int(np.searchsorted(peaks, fiducial))
            near = peaks[max(0, at - 1): at + 1]
            if near.size and int(np.min(np.abs(near - fiducial))) <= within:
                return True
        return False


def block_quality(data: np.ndarray, fs: float) -> BlockQuality:
    """The quality gate on a block (``data`` is ``(samples, leads)``, mV, no NaN): per lead and
    :data:`GATE_EPOCH_S` epoch, noise, lead-off and ventricular fibrillation are not analyzable. The block
    is its own reference, as a short recording is for the ambulatory analysis."""
    from ecgdesk.analysis.detection import detect_qrs
    from ecgdesk.analysis.ventricular import bridge_missing

    config = AnalysisConfig(epoch_s=GATE_EPOCH_S)
    n = data.shape[0]
    mask = np.zeros(data.shape, dtype=bool)
    peaks = []
    for lead in range(data.shape[1]):
        x = data[:, lead]
        found = detect_qrs(x, fs).samples.astype(np.int64) if n >= int(0.5 * fs) else np.zeros(0, np.int64)
        peaks.append(found)
        states = epoch_states(x, fs, config, beats=found)
        mask[:, lead] = sample_analyzable(np.arange(n), states, fs, config)
        if mask[:, lead].any() and not mask[:, lead].all():
            # found again with the noise bridged over: the detector's floor follows the whole block's
            # energy, and noise over much of a block raised it above the clean beats beside the noise. The
            # ambulatory analysis does this only from FLOOR_BREAKDOWN on, as its beats are the result; here
            # they only confirm the delineation's fiducials, so more of them costs nothing
            bridged = bridge_missing(np.where(mask[:, lead], x, np.nan))  # straight lines over the noise
            peaks[-1] = detect_qrs(bridged, fs).samples.astype(np.int64)
    return BlockQuality(mask, tuple(peaks))
