"""Release identity and the integer date convention shared by every reference table.

Dates inside tables are ``YYYYMMDD`` integers: ``0`` = no effective date known, ``99991231`` = not deleted.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ecgdesk.coding.facts import Setting

NO_DATE = 0
OPEN_END = 99991231


def day_int(day: date) -> int:
    """``date(2024, 7, 1)`` -> ``20240701``."""
    return day.year * 10000 + day.month * 100 + day.day


def int_day(value: int) -> date | None:
    """Inverse of :func:`day_int`; ``None`` for :data:`NO_DATE` and :data:`OPEN_END`."""
    if value in (NO_DATE, OPEN_END):
        return None
    return date(value // 10000, value // 100 % 100, value % 100)


class TableKind(enum.StrEnum):
    """The kinds of reference release the store keeps."""

    PTP = "ptp"
    MUE = "mue"
    RVU = "rvu"


@dataclass(frozen=True)
class ReleaseInfo:
    """Where a table came from: release id, settings covered, effective date, source files and checksum."""

    id: str
    kind: TableKind
    effective: date
    settings: tuple[Setting, ...]
    source: str
    checksum: str = ""
    rows: int = 0
    imported_at: str = ""
    builtin: bool = False
    files: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "effective": self.effective.isoformat(),
            "settings": [s.value for s in self.settings],
            "source": self.source,
            "checksum": self.checksum,
            "rows": self.rows,
            "imported_at": self.imported_at,
            "builtin": self.builtin,
            "files": list(self.files),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseInfo:
        return cls(
            id=str(data["id"]),
            kind=TableKind(data["kind"]),
            effective=date.fromisoformat(data["effective"]),
            settings=tuple(Setting(s) for s in data["settings"]),
            source=str(data["source"]),
            checksum=str(data.get("checksum", "")),
            rows=int(data.get("rows", 0)),
            imported_at=str(data.get("imported_at", "")),
            builtin=bool(data.get("builtin", False)),
            files=tuple(data.get("files", ())),
        )
