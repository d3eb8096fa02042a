"""Epochs the analysed lead loses to noise or a loose electrode, read on another lead.

A Holter records two or three leads so that one lead's noise or electrode trouble does not cost the
analysis. Where an epoch of the analysed lead is noise or lead off and the same epoch of another lead is
analyzable, that lead's beats are taken for the epoch and the epoch counts as analyzable; the beats are
labelled Q by the pipeline (found, but their shape is not readable on the analysed lead, so they are not
classified). Another lead is trusted only when

- it agrees with the analysed lead where both are readable: in the chunk's epochs analyzable on both, at
  least :data:`AGREEMENT` of each lead's beats pair up within ``BACKUP_AGREEMENT_S`` (a lead that counts
  pacing spikes or T waves as beats does not), over at least :data:`MIN_COMMON_BEATS` beats; and
- its beats in the epoch come at a plausible rate against the analysed lead's median RR in the chunk: no
  interval (the epoch's own and those to the lead's beats just outside it) shorter than
  ``SEARCHBACK_MIN_RR`` times it, and none longer than :data:`MAX_RR` times it, so that a missed stretch on
  the other lead is never reported as a pause.

Epochs that stay noise or lead off keep their state and lose their beats, as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecgdesk.analysis.detection import BACKUP_AGREEMENT_S, REFRACTORY_S, SEARCHBACK_MIN_RR, near_any
from ecgdesk.analysis.quality import ANALYZABLE, LEAD_OFF, NOISE

#: Where a beat was read: on the analysed lead; on another lead bridging a gap of the analysed lead
#: (classified with the others, then labelled Q); on another lead in an epoch the analysed lead lost to
#: noise or a loose electrode (labelled Q, never classified).
ON_LEAD, BRIDGED, OTHER_LEAD_EPOCH = 0, 1, 2

#: Share of each lead's beats that must pair with the other's in the epochs both leads read.
AGREEMENT = 0.9
#: Fewest analysed-lead beats in those epochs for the agreement to count.
MIN_COMMON_BEATS = 20
#: Longest interval of a rescued epoch, as a multiple of the analysed lead's median RR.
MAX_RR = 2.0


@dataclass(frozen=True)
class OtherLeadBeats:
    """Epochs (indices into the chunk's states) read on another lead, with their beats (samples of the
    chunk's core) and the lead that gave each beat."""

    epochs: np.ndarray
    samples: np.ndarray
    source: np.ndarray

    @classmethod
    def none(cls) -> OtherLeadBeats:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int16))


def read_on_other_leads(
    states: np.ndarray,
    beats: np.ndarray,
    epoch_samples: int,
    fs: float,
    leads: Sequence[int],
    read_lead: Callable[[int], tuple[np.ndarray, np.ndarray]],
) -> OtherLeadBeats:
    """The noise and lead-off epochs of ``states`` (the analysed lead's, with its ``beats``) that another
    of ``leads`` reads (module docstring). ``read_lead(lead)`` gives that lead's epoch states and beats on
    the same samples; it is called only while epochs remain to be read, in the order of ``leads``."""
    lost = np.flatnonzero((states == NOISE) | (states == LEAD_OFF))
    beats = np.asarray(beats, dtype=np.int64)
    if lost.size == 0 or beats.size < 2:
        return OtherLeadBeats.none()
    epoch_of = np.minimum(beats // epoch_samples, states.size - 1)
    readable = states[epoch_of] == ANALYZABLE
    rr = np.diff(beats)[readable[1:] & readable[:-1]]
    if rr.size == 0:
        return OtherLeadBeats.none()
    typical = float(np.median(rr))
    tol = int(round(BACKUP_AGREEMENT_S * fs))
    taken: list[tuple[int, np.ndarray, int]] = []
    remaining = set(lost.tolist())
    for lead in leads:
        if not remaining:
            break
        other_states, other = read_lead(lead)
        other = np.asarray(other, dtype=np.int64)
        if other.size < 2:
            continue
        other_epoch = np.minimum(other // epoch_samples, other_states.size - 1)
        both = (states == ANALYZABLE) & (other_states == ANALYZABLE)
        mine, theirs = beats[both[epoch_of]], other[both[other_epoch]]
        if (mine.size < MIN_COMMON_BEATS or near_any(mine, theirs, tol).mean() < AGREEMENT
                or near_any(theirs, mine, tol).mean() < AGREEMENT):
            continue
        for epoch in sorted(remaining):
            if other_states[epoch] != ANALYZABLE:
                continue
            lo, hi = np.searchsorted(other, [epoch * epoch_samples, (epoch + 1) * epoch_samples])
            if hi == lo:
                continue
            intervals = np.diff(other[max(lo - 1, 0):min(hi + 1, other.size)])
            if intervals.min() < SEARCHBACK_MIN_RR * typical or intervals.max() > MAX_RR * typical:
                continue
            taken.append((epoch, other[lo:hi], lead))
            remaining.discard(epoch)
    if not taken:
        return OtherLeadBeats.none()
    taken.sort(key=lambda t: t[0])
    return OtherLeadBeats(
        np.array([t[0] for t in taken], dtype=np.int64),
        np.concatenate([t[1] for t in taken]),
        np.concatenate([np.full(t[1].size, t[2], dtype=np.int16) for t in taken]),
    )


def join_beats(
    peaks: np.ndarray, origin: np.ndarray, more: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """``peaks`` (with their ``origin``) and the beats ``more`` another lead read in the analysed lead's
    lost epochs, in order; one within a refractory period of a beat of ``peaks`` (the same QRS seen on
    both leads across an epoch boundary) is left out."""
    more = more[~near_any(more, peaks, int(REFRACTORY_S * fs))]
    order = np.argsort(np.concatenate([peaks, more]), kind="stable")
    codes = np.concatenate([origin, np.full(more.size, OTHER_LEAD_EPOCH, dtype=np.int8)])
    return np.concatenate([peaks, more])[order], codes[order]


def with_unclassified(table: Any, extra: np.ndarray) -> Any:
    """``table`` with the beats ``extra`` added in order, labelled Q and of no template."""
    samples, labels = np.asarray(table.samples), np.asarray(table.labels)
    if not dataclasses.is_dataclass(table) or isinstance(table, type):
        raise TypeError(f"the beat table must be a dataclass to take more beats, got {type(table).__name__}")
    order = np.argsort(np.concatenate([samples, extra]), kind="stable")
    changes: dict[str, np.ndarray] = {
        "samples": np.concatenate([samples, extra])[order],
        "labels": np.concatenate([labels, np.full(extra.size, "Q", dtype=labels.dtype)])[order],
    }
    ids = getattr(table, "template_ids", None)
    if ids is not None:
        changes["template_ids"] = np.concatenate([ids, np.full(extra.size, -1, dtype=ids.dtype)])[order]
    return dataclasses.replace(table, **changes)
