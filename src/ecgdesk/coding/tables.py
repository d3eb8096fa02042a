"""In-memory reference tables (PTP edits, MUE limits, RVUs) and the built-in baseline.

Each table knows the release it came from (:class:`ReleaseInfo`). Dates inside the tables are stored
as ``YYYYMMDD`` integers (``0`` = no effective date known, ``99991231`` = not deleted) so that the
scrubber compares ints, and tables serialise to plain numpy arrays (see :mod:`ecgdesk.coding.refdata`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import NamedTuple

import numpy as np

from ecgdesk.coding.facts import Setting
from ecgdesk.coding.ptp import PtpRow, PtpTable, dedupe_ptp
from ecgdesk.coding.release import NO_DATE, OPEN_END, ReleaseInfo, TableKind, day_int, int_day

__all__ = [
    "NO_DATE",
    "OPEN_END",
    "MueRow",
    "MueTable",
    "PtpRow",
    "PtpTable",
    "ReleaseInfo",
    "RvuRow",
    "RvuTable",
    "Table",
    "TableKind",
    "baseline",
    "day_int",
    "dedupe_ptp",
    "int_day",
]

# --------------------------------------------------------------------------------------------------
# MUE


class MueRow(NamedTuple):
    """A medically unlikely edit: at most ``value`` units, adjudicated per MAI 1 (line), 2 or 3 (per day)."""

    setting: Setting
    code: str
    value: int
    mai: int
    rationale: str = ""


@dataclass
class MueTable:
    release: ReleaseInfo
    _limits: dict[tuple[str, str], MueRow] = field(default_factory=dict, repr=False)

    @classmethod
    def from_rows(cls, release: ReleaseInfo, rows: Iterable[MueRow]) -> MueTable:
        return cls(release, {(row.setting.value, row.code): row for row in rows})

    def __len__(self) -> int:
        return len(self._limits)

    def rows(self) -> Iterator[MueRow]:
        return iter(self._limits.values())

    def limit(self, setting: Setting, code: str) -> MueRow | None:
        return self._limits.get((setting.value, code))


# --------------------------------------------------------------------------------------------------
# RVU


class RvuRow(NamedTuple):
    """Physician fee schedule values of one code (+ modifier ``26``/``TC`` or none)."""

    code: str
    modifier: str
    status: str
    pctc: int | None
    work_rvu: float
    total_nonfacility: float
    total_facility: float | None
    facility_na: bool
    conversion_factor: float

    @property
    def payment_nonfacility(self) -> float:
        return round(self.total_nonfacility * self.conversion_factor, 2)

    @property
    def payment_facility(self) -> float | None:
        if self.facility_na or self.total_facility is None:
            return None
        return round(self.total_facility * self.conversion_factor, 2)


@dataclass
class RvuTable:
    release: ReleaseInfo
    _values: dict[tuple[str, str], RvuRow] = field(default_factory=dict, repr=False)

    @classmethod
    def from_rows(cls, release: ReleaseInfo, rows: Iterable[RvuRow]) -> RvuTable:
        return cls(release, {(row.code, row.modifier): row for row in rows})

    def __len__(self) -> int:
        return len(self._values)

    def rows(self) -> Iterator[RvuRow]:
        return iter(self._values.values())

    def value(self, code: str, modifier: str = "") -> RvuRow | None:
        return self._values.get((code, modifier))


Table = PtpTable | MueTable | RvuTable

# --------------------------------------------------------------------------------------------------
# Serialisation to numpy arrays (the refdata store writes them with np.savez).

_SETTINGS = list(Setting)


def table_to_arrays(table: Table) -> dict[str, np.ndarray]:
    """Column arrays of ``table``: strings as fixed-width unicode, settings as small ints."""
    if isinstance(table, PtpTable):
        return table.to_arrays()
    if isinstance(table, MueTable):
        mues = list(table.rows())
        return {
            "setting": np.array([_SETTINGS.index(r.setting) for r in mues], dtype=np.int8),
            "code": np.array([r.code for r in mues], dtype="U5"),
            "value": np.array([r.value for r in mues], dtype=np.int32),
            "mai": np.array([r.mai for r in mues], dtype=np.int8),
            "rationale": np.array([r.rationale for r in mues], dtype=str),
        }
    rvus = list(table.rows())
    return {
        "code": np.array([r.code for r in rvus], dtype="U5"),
        "modifier": np.array([r.modifier for r in rvus], dtype="U2"),
        "status": np.array([r.status for r in rvus], dtype="U1"),
        "pctc": np.array([-1 if r.pctc is None else r.pctc for r in rvus], dtype=np.int8),
        "work_rvu": np.array([r.work_rvu for r in rvus], dtype=np.float64),
        "total_nonfacility": np.array([r.total_nonfacility for r in rvus], dtype=np.float64),
        "total_facility": np.array(
            [np.nan if r.total_facility is None else r.total_facility for r in rvus], dtype=np.float64
        ),
        "facility_na": np.array([r.facility_na for r in rvus], dtype=bool),
        "conversion_factor": np.array([r.conversion_factor for r in rvus], dtype=np.float64),
    }


def table_from_arrays(release: ReleaseInfo, arrays: Mapping[str, np.ndarray]) -> Table:
    """Rebuild the table of ``release.kind`` from :func:`table_to_arrays` output."""
    if release.kind is TableKind.PTP:
        return PtpTable(release, arrays)
    if release.kind is TableKind.MUE:
        settings = [_SETTINGS[i] for i in arrays["setting"].tolist()]
        return MueTable.from_rows(
            release,
            map(
                MueRow,
                settings,
                arrays["code"].tolist(),
                arrays["value"].tolist(),
                arrays["mai"].tolist(),
                arrays["rationale"].tolist(),
            ),
        )
    facility = [None if v != v else v for v in arrays["total_facility"].tolist()]
    pctc = [None if v < 0 else v for v in arrays["pctc"].tolist()]
    return RvuTable.from_rows(
        release,
        map(
            RvuRow,
            arrays["code"].tolist(),
            arrays["modifier"].tolist(),
            arrays["status"].tolist(),
            pctc,
            arrays["work_rvu"].tolist(),
            arrays["total_nonfacility"].tolist(),
            facility,
            arrays["facility_na"].tolist(),
            arrays["conversion_factor"].tolist(),
        ),
    )


# --------------------------------------------------------------------------------------------------
# Built-in baseline (works in a fresh clone without ../shared).


def _data_text(name: str) -> str:
    return resources.files("ecgdesk.coding.data").joinpath(name).read_text(encoding="utf-8")


_BOTH = (Setting.PRACTITIONER, Setting.HOSPITAL_OUTPATIENT)


@cache
def baseline_ptp() -> PtpTable:
    """The family and selected cross-family edits of coding.md 3.2 (``data/ptp_baseline.json``)."""
    data = json.loads(_data_text("ptp_baseline.json"))
    rows: list[PtpRow] = []
    for group in data["groups"]:
        settings = [Setting(s) for s in group.get("settings", data["settings"])]
        deletion = day_int(date.fromisoformat(group["deletion"])) if group.get("deletion") else OPEN_END
        rationale = data["rationales"][group["rationale"]]
        for setting in settings:
            for column1 in group["column1"]:
                for column2 in group["column2"]:
                    rows.append(
                        PtpRow(
                            setting, column1, column2, int(group["indicator"]), NO_DATE, deletion, rationale
                        )
                    )
    release = ReleaseInfo(
        id=data["id"],
        kind=TableKind.PTP,
        effective=date.fromisoformat(data["effective"]),
        settings=_BOTH,
        source=data["source"],
        rows=len(rows),
        builtin=True,
        files=("ecgdesk/coding/data/ptp_baseline.json",),
    )
    return PtpTable.from_rows(release, dedupe_ptp(rows))


@cache
def baseline_mue() -> MueTable:
    """MUE limits of the family (coding.md 1.2) from ``data/mue_baseline.csv``."""
    rows = [
        MueRow(Setting(r["setting"]), r["code"], int(r["value"]), int(r["mai"]), r["source"])
        for r in csv.DictReader(_data_text("mue_baseline.csv").splitlines())
    ]
    release = ReleaseInfo(
        id="baseline-mue-2024q3-family",
        kind=TableKind.MUE,
        effective=date(2024, 7, 1),
        settings=_BOTH,
        source="CMS MUE tables effective 2024-07-01 (coding.md 1.2)",
        rows=len(rows),
        builtin=True,
        files=("ecgdesk/coding/data/mue_baseline.csv",),
    )
    return MueTable.from_rows(release, rows)


@cache
def baseline_rvu() -> RvuTable:
    """2024 PFS RVUs of the family (coding.md 1.2) from ``data/rvu_baseline.csv``."""
    rows = [
        RvuRow(
            r["code"],
            r["modifier"],
            r["status"],
            int(r["pctc"]) if r["pctc"] else None,
            float(r["work_rvu"]),
            float(r["total_nonfacility"]),
            float(r["total_facility"]) if r["total_facility"] else None,
            r["facility_na"] == "Y",
            float(r["conversion_factor"]),
        )
        for r in csv.DictReader(_data_text("rvu_baseline.csv").splitlines())
    ]
    release = ReleaseInfo(
        id="baseline-pfs-rvu-2024jul-family",
        kind=TableKind.RVU,
        effective=date(2024, 7, 1),
        settings=_BOTH,
        source="CMS PFS RVU file July 2024, CF 33.2875 (coding.md 1.2)",
        rows=len(rows),
        builtin=True,
        files=("ecgdesk/coding/data/rvu_baseline.csv",),
    )
    return RvuTable.from_rows(release, rows)


def baseline(kind: TableKind) -> Table:
    loaders: dict[TableKind, Callable[[], Table]] = {
        TableKind.PTP: baseline_ptp,
        TableKind.MUE: baseline_mue,
        TableKind.RVU: baseline_rvu,
    }
    return loaders[kind]()
