"""In-memory reference tables (PTP edits, MUE limits, RVUs) and the built-in baseline.

Each table knows the release it came from (:class:`ReleaseInfo`). Dates inside the tables are stored
as ``YYYYMMDD`` integers (``0`` = no effective date known, ``99991231`` = not deleted) so that the
scrubber compares ints, and tables serialise to plain numpy arrays (see :mod:`ecgdesk.coding.refdata`).
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import numpy as np

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


# --------------------------------------------------------------------------------------------------
# PTP


class PtpRow(NamedTuple):
    """One NCCI procedure-to-procedure edit: ``column2`` is not paid with ``column1`` while it is in force."""

    setting: Setting
    column1: str
    column2: str
    indicator: int
    effective: int = NO_DATE
    deletion: int = OPEN_END
    rationale: str = ""

    def in_force(self, day: int) -> bool:
        return self.effective <= day <= self.deletion


def dedupe_ptp(rows: Iterable[PtpRow]) -> list[PtpRow]:
    """Drop duplicate keys (setting, column1, column2, effective), keeping the row in force longest.

    CMS files carry real duplicates (the same pair with an old, deleted row and a current one).
    """
    best: dict[tuple[Setting, str, str, int], PtpRow] = {}
    for row in rows:
        key = (row.setting, row.column1, row.column2, row.effective)
        kept = best.get(key)
        if kept is None or row.deletion > kept.deletion:
            best[key] = row
    return list(best.values())


@dataclass
class PtpTable:
    """NCCI PTP edits of one release, looked up by (setting, column1, column2)."""

    release: ReleaseInfo
    _pairs: dict[tuple[str, str, str], tuple[PtpRow, ...]] = field(default_factory=dict, repr=False)
    _by_code: dict[tuple[str, str], list[PtpRow]] | None = field(default=None, repr=False)

    @classmethod
    def from_rows(cls, release: ReleaseInfo, rows: Iterable[PtpRow]) -> PtpTable:
        pairs: dict[tuple[str, str, str], tuple[PtpRow, ...]] = {}
        for row in rows:
            key = (row.setting.value, row.column1, row.column2)
            pairs[key] = (*pairs.get(key, ()), row)
        return cls(release, pairs)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._pairs.values())

    def rows(self) -> Iterator[PtpRow]:
        for rows in self._pairs.values():
            yield from rows

    def edit(self, setting: Setting, column1: str, column2: str, day: int) -> PtpRow | None:
        """The edit of the pair (in this order) in force on ``day`` (YYYYMMDD int), if any."""
        rows = self._pairs.get((setting.value, column1, column2))
        if rows is None:
            return None
        for row in rows:
            if row.effective <= day <= row.deletion:
                return row
        return None

    def partners(self, setting: Setting, code: str) -> list[PtpRow]:
        """Every row in which ``code`` is column 1 or column 2 (any date)."""
        if self._by_code is None:
            index: dict[tuple[str, str], list[PtpRow]] = {}
            for row in self.rows():
                index.setdefault((row.setting.value, row.column1), []).append(row)
                index.setdefault((row.setting.value, row.column2), []).append(row)
            self._by_code = index
        return list(self._by_code.get((setting.value, code), []))


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
        rows = list(table.rows())
        rationales = sorted({r.rationale for r in rows})
        index = {text: i for i, text in enumerate(rationales)}
        return {
            "setting": np.array([_SETTINGS.index(r.setting) for r in rows], dtype=np.int8),
            "column1": np.array([r.column1 for r in rows], dtype="U5"),
            "column2": np.array([r.column2 for r in rows], dtype="U5"),
            "indicator": np.array([r.indicator for r in rows], dtype=np.int8),
            "effective": np.array([r.effective for r in rows], dtype=np.int32),
            "deletion": np.array([r.deletion for r in rows], dtype=np.int32),
            "rationale": np.array([index[r.rationale] for r in rows], dtype=np.int16),
            "rationales": np.array(rationales, dtype=str),
        }
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
        rationales = arrays["rationales"].tolist()
        settings = [_SETTINGS[i] for i in arrays["setting"].tolist()]
        rows = map(
            PtpRow,
            settings,
            arrays["column1"].tolist(),
            arrays["column2"].tolist(),
            arrays["indicator"].tolist(),
            arrays["effective"].tolist(),
            arrays["deletion"].tolist(),
            [rationales[i] for i in arrays["rationale"].tolist()],
        )
        return PtpTable.from_rows(release, rows)
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
