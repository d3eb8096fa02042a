"""In-memory reference tables (PTP edits, MUE limits, RVUs) and the built-in baseline.

Each table knows the release it came from (:class:`ReleaseInfo`). Dates inside the tables are stored
as ``YYYYMMDD`` integers (``0`` = no effective date known, ``99991231`` = not deleted) so that the
scrubber compares ints, and tables serialise to plain numpy arrays (see :mod:`ecgdesk.coding.refdata`).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import NamedTuple

import numpy as np

from ecgdesk.coding.facts import Setting
from ecgdesk.coding.ptp import PtpRow, PtpTable, dedupe_ptp
from ecgdesk.coding.release import NO_DATE, OPEN_END, ReleaseInfo, TableKind, day_int, int_day
from ecgdesk.errors import InputError

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
# Built-in baseline: the CMS release shipped as package data (works in a fresh install without ../shared).
# ``data/cms/*.npz`` are built by ``tools/build_cms_refdata.py`` from the public-domain CMS extracts
# (every NCCI PTP pair, MUE and RVU row involving an ECG-family code, effective 2024-07-01); their
# provenance and checksums are in ``data/cms/manifest.json``.


def _data_bytes(name: str) -> bytes:
    return resources.files("ecgdesk.coding.data").joinpath(name).read_bytes()


@cache
def shipped_manifest() -> dict[str, object]:
    """Provenance of the shipped CMS tables (origin, release per kind, SHA-256 of each source file)."""
    return dict(json.loads(_data_bytes("cms/manifest.json").decode("utf-8")))


def _shipped(kind: TableKind) -> Table:
    releases = shipped_manifest()["releases"]
    assert isinstance(releases, dict)
    release = ReleaseInfo.from_dict(releases[kind.value])
    payload = _data_bytes(f"cms/{kind.value}.npz")
    if hashlib.sha256(payload).hexdigest() != release.checksum:
        raise InputError("checksum", "the shipped CMS table does not match its manifest; reinstall ecgdesk",
                         f"ecgdesk/coding/data/cms/{kind.value}.npz")
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        return table_from_arrays(release, {name: arrays[name] for name in arrays.files})


@cache
def baseline_ptp() -> PtpTable:
    """NCCI PTP edits of every pair with an ECG-family code, both settings, CMS 2024-07-01."""
    table = _shipped(TableKind.PTP)
    assert isinstance(table, PtpTable)
    return table


@cache
def baseline_mue() -> MueTable:
    """MUE limits (value, MAI) of the family and adjacent codes, both settings, CMS 2024-07-01."""
    table = _shipped(TableKind.MUE)
    assert isinstance(table, MueTable)
    return table


@cache
def baseline_rvu() -> RvuTable:
    """PFS RVUs of the family, July 2024 (conversion factor 33.2875)."""
    table = _shipped(TableKind.RVU)
    assert isinstance(table, RvuTable)
    return table


def baseline(kind: TableKind) -> Table:
    loaders: dict[TableKind, Callable[[], Table]] = {
        TableKind.PTP: baseline_ptp,
        TableKind.MUE: baseline_mue,
        TableKind.RVU: baseline_rvu,
    }
    return loaders[kind]()
