"""The frontal leads a file leaves out, derived from I and II, and a check for a reversed limb lead pair.

Many carts store only the 8 independent leads (I, II, V1-V6); III, aVR, aVL and aVF are fixed sums of I and
II (Einthoven's law and Goldberger's augmented leads). Without them the axis rested on two leads and the
low-voltage-limb and Cornell statements were missing. The reversal check only warns: a left/right arm
electrode swap inverts lead I and mirrors aVR and aVL, and gives a wrong axis with a confident statement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgdesk.analysis.ecg12.measure import Measurements
from ecgdesk.records.lead_names import standard_lead_name

#: Each derived lead as weights on (I, II): III = II - I, aVR = -(I + II) / 2, aVL = I - II / 2,
#: aVF = II - I / 2 (Einthoven 1913; Goldberger 1942).
DERIVED: dict[str, tuple[float, float]] = {
    "III": (-1.0, 1.0), "aVR": (-0.5, -0.5), "aVL": (1.0, -0.5), "aVF": (-0.5, 1.0),
}

def derive_limb_leads(data: np.ndarray, names: Sequence[str],
                      unusable: frozenset[int]) -> tuple[np.ndarray, list[str], tuple[str, ...]]:
    """``data`` with III, aVR, aVL and aVF appended where the file has none of that lead, computed from
    its I and II; the file's own leads are never replaced. Nothing is derived unless the file has exactly
    one I and one II, neither of them flat or clipped (``unusable``): a derived lead would carry the fault.

    Returns the samples, the names and the names of the derived leads (in that order at the end)."""
    standard = [standard_lead_name(name) for name in names]
    if standard.count("I") != 1 or standard.count("II") != 1:
        return data, list(names), ()
    lead_i, lead_ii = standard.index("I"), standard.index("II")
    if lead_i in unusable or lead_ii in unusable:
        return data, list(names), ()
    missing = [name for name in DERIVED if name not in standard]
    if not missing:
        return data, list(names), ()
    columns = [DERIVED[name][0] * data[:, lead_i] + DERIVED[name][1] * data[:, lead_ii] for name in missing]
    return np.column_stack([data, *columns]), [*names, *missing], tuple(missing)


def derived_note(source: str, derived: Sequence[str]) -> str:
    return (f"{source}: leads {', '.join(derived)} derived from I and II (Einthoven/Goldberger): the file "
            f"has none of them")


def limb_reversal_warning(m: Measurements, has_p_wave: bool, source: str) -> str | None:
    """A warning where the median beat looks like a left/right arm electrode reversal, else None.

    The reversal inverts lead I and swaps aVR with aVL (and II with III). Cautious by design: it needs a P
    wave the rhythm makes sinus-like (``has_p_wave``: not in atrial fibrillation, flutter or a paced
    rhythm, whose QRS direction is the pacing site's), a P wave negative in lead I, a QRS complex whose
    largest deflection in lead I is negative, and a P wave in aVR above the one in aVL (in sinus rhythm
    aVR's P is the most negative of the limb leads; the swap puts it in aVL). Batchvarov et al. ask for a
    positive P in aVR: after the swap aVR holds aVL's P, near zero at a normal P axis, and that rule missed
    15 of the 79 swapped LUDB records this one finds (docs/ecg12.md). Dextrocardia gives the same limb
    leads, so the warning names it too; no statement changes."""
    amp = m.amplitudes
    if not has_p_wave or "i" not in amp or "avr" not in amp:
        return None
    lead_i, avr = amp["i"], amp["avr"]
    avl_p = amp["avl"].p_mv if "avl" in amp else 0.0
    qrs_negative = -min(lead_i.q_mv, lead_i.s_mv) > lead_i.r_mv
    if lead_i.p_mv < 0.0 and avr.p_mv > avl_p and qrs_negative:
        return (f"{source}: possible limb lead reversal (left/right arm) or dextrocardia: P wave and QRS "
                f"negative in lead I (P {lead_i.p_mv:+.2f} mV, R {lead_i.r_mv:.2f} / S "
                f"{min(lead_i.q_mv, lead_i.s_mv):.2f} mV), P in aVR above aVL ({avr.p_mv:+.2f} / "
                f"{avl_p:+.2f} mV); check the electrodes before reading the axis and statements")
    return None
