"""NCCI procedure-to-procedure edits held as sorted column arrays, indexed lazily per column-1 code.

A national PTP release has millions of rows; building a Python object per row would make every CLI run
pay seconds of start-up. The table keeps numpy columns (codes as ids into a vocabulary), sorted by
(setting, column 1, column 2, effective), and builds the rows of one (setting, column 1) block the
first time the scrubber asks about that code: loading is a file read, lookups after the first are
dictionary hits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

import numpy as np

from ecgdesk.coding.facts import Setting
from ecgdesk.coding.release import NO_DATE, OPEN_END, ReleaseInfo

SETTINGS = list(Setting)
_SETTING_ID = {setting: i for i, setting in enumerate(SETTINGS)}
_SHIFT = np.int64(1 << 24)


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


_Block = dict[int, tuple[PtpRow, ...]]


class PtpTable:
    """NCCI PTP edits of one release, looked up by (setting, column1, column2) and date."""

    COLUMNS = (
        "codes",
        "setting",
        "column1",
        "column2",
        "indicator",
        "effective",
        "deletion",
        "rationale",
        "rationales",
    )

    def __init__(self, release: ReleaseInfo, arrays: Mapping[str, np.ndarray]) -> None:
        self.release = release
        self._codes: list[str] = arrays["codes"].tolist()
        self._rationales: list[str] = arrays["rationales"].tolist()
        self._setting = arrays["setting"]
        self._column1 = arrays["column1"]
        self._column2 = arrays["column2"]
        self._indicator = arrays["indicator"]
        self._effective = arrays["effective"]
        self._deletion = arrays["deletion"]
        self._rationale = arrays["rationale"]
        self._block_key = self._setting.astype(np.int64) * _SHIFT + self._column1.astype(np.int64)
        self._code_id = {code: i for i, code in enumerate(self._codes)}
        self._blocks: dict[tuple[int, int], _Block] = {}

    @classmethod
    def from_rows(cls, release: ReleaseInfo, rows: Iterable[PtpRow]) -> PtpTable:
        listed = list(rows)
        codes = sorted({r.column1 for r in listed} | {r.column2 for r in listed})
        code_id = {code: i for i, code in enumerate(codes)}
        rationales = sorted({r.rationale for r in listed})
        rationale_id = {text: i for i, text in enumerate(rationales)}
        setting = np.array([_SETTING_ID[r.setting] for r in listed], dtype=np.int8)
        column1 = np.array([code_id[r.column1] for r in listed], dtype=np.int32)
        column2 = np.array([code_id[r.column2] for r in listed], dtype=np.int32)
        effective = np.array([r.effective for r in listed], dtype=np.int32)
        order = np.lexsort((effective, column2, column1, setting))
        arrays = {
            "codes": np.array(codes, dtype="U5"),
            "setting": setting[order],
            "column1": column1[order],
            "column2": column2[order],
            "indicator": np.array([r.indicator for r in listed], dtype=np.int8)[order],
            "effective": effective[order],
            "deletion": np.array([r.deletion for r in listed], dtype=np.int32)[order],
            "rationale": np.array([rationale_id[r.rationale] for r in listed], dtype=np.int16)[order],
            "rationales": np.array(rationales, dtype=str),
        }
        return cls(release, arrays)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "codes": np.array(self._codes, dtype="U5"),
            "setting": self._setting,
            "column1": self._column1,
            "column2": self._column2,
            "indicator": self._indicator,
            "effective": self._effective,
            "deletion": self._deletion,
            "rationale": self._rationale,
            "rationales": np.array(self._rationales, dtype=str),
        }

    def __len__(self) -> int:
        return len(self._setting)

    def _rows(self, start: int, stop: int) -> list[PtpRow]:
        codes, rationales = self._codes, self._rationales
        return [
            PtpRow(SETTINGS[s], codes[c1], codes[c2], ind, eff, dele, rationales[rat])
            for s, c1, c2, ind, eff, dele, rat in zip(
                self._setting[start:stop].tolist(),
                self._column1[start:stop].tolist(),
                self._column2[start:stop].tolist(),
                self._indicator[start:stop].tolist(),
                self._effective[start:stop].tolist(),
                self._deletion[start:stop].tolist(),
                self._rationale[start:stop].tolist(),
                strict=True,
            )
        ]

    def rows(self) -> Iterator[PtpRow]:
        step = 65536
        for start in range(0, len(self), step):
            yield from self._rows(start, min(start + step, len(self)))

    def _block(self, setting_id: int, column1_id: int) -> _Block:
        key = (setting_id, column1_id)
        block = self._blocks.get(key)
        if block is None:
            wanted = np.int64(setting_id) * _SHIFT + np.int64(column1_id)
            start = int(np.searchsorted(self._block_key, wanted, side="left"))
            stop = int(np.searchsorted(self._block_key, wanted, side="right"))
            grouped: dict[int, list[PtpRow]] = {}
            for row, column2 in zip(self._rows(start, stop), self._column2[start:stop].tolist(), strict=True):
                grouped.setdefault(column2, []).append(row)
            block = {column2: tuple(rows) for column2, rows in grouped.items()}
            self._blocks[key] = block
        return block

    def edit(self, setting: Setting, column1: str, column2: str, day: int) -> PtpRow | None:
        """The edit of the pair (in this order) in force on ``day`` (YYYYMMDD int), if any."""
        first = self._code_id.get(column1)
        second = self._code_id.get(column2)
        if first is None or second is None:
            return None
        rows = self._block(_SETTING_ID[setting], first).get(second)
        if rows is None:
            return None
        for row in rows:
            if row.effective <= day <= row.deletion:
                return row
        return None

    def knows(self, code: str) -> bool:
        """Whether ``code`` is in any row of the table (either column, any setting or date)."""
        return code in self._code_id

    def partners(self, setting: Setting, code: str) -> list[PtpRow]:
        """Every row in which ``code`` is column 1 or column 2 (any date)."""
        wanted = self._code_id.get(code)
        if wanted is None:
            return []
        mask = (self._setting == _SETTING_ID[setting]) & (
            (self._column1 == wanted) | (self._column2 == wanted)
        )
        found: list[PtpRow] = []
        for index in np.flatnonzero(mask).tolist():
            found.extend(self._rows(index, index + 1))
        return found
