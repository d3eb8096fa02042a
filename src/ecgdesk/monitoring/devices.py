"""Which recorder a patient wore when: an enrolment's device spells, from its swaps.

A recorder that fails or whose battery dies is replaced within the same enrolment (one service is every
recording of a continuous period, shared/reference/monitoring.md section 1; a second enrolment would be a
second billable set that the 29-day rule refuses). The first spell runs from the start of the period to the
first swap, each swap starts a spell of its new recorder, and the last spell runs to the end of the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Swap:
    old_serial: str
    new_serial: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class Spell:
    serial: str
    start: datetime | None  # None: from the start of the period
    end: datetime | None  # None: to the end of the period
    reason: str = ""  # why this recorder replaced the one before it ("" for the first)

    def holds(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)

    @property
    def bounded(self) -> bool:
        """A spell a swap began or ended: the recorder was worn in it and not outside it."""
        return self.start is not None or self.end is not None


def spells(current_serial: str, swaps: Sequence[Swap]) -> list[Spell]:
    """The recorders worn in turn; ``swaps`` in time order, ``current_serial`` the one worn now."""
    ordered = sorted(swaps, key=lambda s: s.at)
    if not ordered:
        return [Spell(current_serial, None, None)]
    out = [Spell(ordered[0].old_serial, None, ordered[0].at)]
    for swap, after in zip(ordered, [*ordered[1:], None], strict=True):
        out.append(Spell(swap.new_serial, swap.at, after.at if after else None, swap.reason))
    return out


def worn_at(all_spells: Sequence[Spell], at: datetime) -> Spell | None:
    """The spell of the recorder worn at ``at``."""
    return next((s for s in all_spells if s.holds(at)), None)
