"""What every scrub rule sees: the claim, its history, the code rows and the tables in force."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from ecgdesk.coding.codes import CodeInfo, code_table
from ecgdesk.coding.facts import Claim, ClaimLine
from ecgdesk.coding.refdata import RefData
from ecgdesk.coding.tables import MueTable, PtpRow, PtpTable, RvuTable, TableKind, day_int

# Modifiers that may bypass a PTP edit with indicator 1 (NCCI-associated modifiers).
NCCI_BYPASS = frozenset(
    {
        "59",
        "XE",
        "XS",
        "XP",
        "XU",
        "25",
        "76",
        "77",
        "91",
        "E1",
        "E2",
        "E3",
        "E4",
        "FA",
        "F1",
        "F2",
        "F3",
        "F4",
        "F5",
        "F6",
        "F7",
        "F8",
        "F9",
        "LT",
        "RT",
        "LC",
        "LD",
        "RC",
        "LM",
        "RI",
        "TA",
        "T1",
        "T2",
        "T3",
        "T4",
        "T5",
        "T6",
        "T7",
        "T8",
        "T9",
        "24",
        "27",
        "57",
        "58",
        "78",
        "79",
    }
)
DISTINCT = frozenset({"59", "XE", "XS", "XP", "XU"})


@dataclass(frozen=True)
class Pair:
    """Two lines of the same date of service with a PTP edit in force (``column2`` is the bundled line)."""

    column1: int
    column2: int
    edit: PtpRow


@dataclass
class ScrubContext:
    """The claim under review plus everything the rules look up; lazily computed and shared."""

    claim: Claim
    history: Sequence[Claim]
    refdata: RefData
    fallbacks: set[tuple[TableKind, date]] = field(default_factory=set)

    @cached_property
    def infos(self) -> list[CodeInfo | None]:
        table = code_table()
        return [table.get(line.code) for line in self.claim.lines]

    @cached_property
    def by_day(self) -> dict[date, list[int]]:
        """Line indexes grouped by date of service."""
        groups: dict[date, list[int]] = {}
        for i, line in enumerate(self.claim.lines):
            groups.setdefault(line.date_of_service, []).append(i)
        return groups

    def _resolve(self, kind: TableKind, day: date) -> PtpTable | MueTable | RvuTable:
        resolved = self.refdata.resolve(kind, self.claim.setting, day)
        if resolved.fallback:
            self.fallbacks.add((kind, day))
        return resolved.table

    def ptp(self, day: date) -> PtpTable:
        table = self._resolve(TableKind.PTP, day)
        assert isinstance(table, PtpTable)
        return table

    def mue(self, day: date) -> MueTable:
        table = self._resolve(TableKind.MUE, day)
        assert isinstance(table, MueTable)
        return table

    def rvu(self, day: date) -> RvuTable:
        table = self._resolve(TableKind.RVU, day)
        assert isinstance(table, RvuTable)
        return table

    @cached_property
    def pairs(self) -> list[Pair]:
        """Every ordered pair of lines with a PTP edit in force on their shared date of service."""
        found: list[Pair] = []
        lines = self.claim.lines
        for day, indexes in self.by_day.items():
            if len(indexes) < 2:
                continue
            table = self.ptp(day)
            when = day_int(day)
            for i in indexes:
                for j in indexes:
                    if i == j or lines[i].code == lines[j].code:
                        continue
                    edit = table.edit(self.claim.setting, lines[i].code, lines[j].code, when)
                    if edit is not None and edit.indicator != 9:
                        found.append(Pair(i, j, edit))
        return found

    def pointed_diagnoses(self, line: ClaimLine) -> list[str]:
        """The claim diagnoses a line points to (pointers are 1-based; invalid ones are skipped)."""
        diagnoses = self.claim.diagnoses
        return [diagnoses[p - 1] for p in line.diagnosis_pointers if 1 <= p <= len(diagnoses)]

    def hours(self, line: ClaimLine) -> float | None:
        return line.recorded_hours if line.recorded_hours is not None else self.claim.recorded_hours
