"""Importers for the CMS quarterly files (NCCI PTP, MUE, PFS RVU) and the CSV extracts in ../shared/data/cms.

Each parser reads the real layouts tolerantly: banner and copyright lines and repeated header rows are
skipped, columns are found by their header words, and a file that yields no data row is refused with an
:class:`~ecgdesk.errors.InputError` naming it. CPT descriptor text is never read or stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

from ecgdesk.coding.facts import CODE_PATTERN, Setting
from ecgdesk.coding.tables import (
    NO_DATE,
    OPEN_END,
    MueRow,
    MueTable,
    PtpRow,
    PtpTable,
    ReleaseInfo,
    RvuRow,
    RvuTable,
    Table,
    TableKind,
    day_int,
    dedupe_ptp,
)
from ecgdesk.errors import InputError, is_digits

_Row = TypeVar("_Row")

# column1, column2, prior-to-1996 flag, effective, deletion ('*' = none), modifier indicator, rationale.
_PTP_LINE = re.compile(
    r'^\s*"?(?P<c1>[0-9A-Z]{5})"?[\t ,;|]+"?(?P<c2>[0-9A-Z]{5})"?[\t ,;|]+"?(?P<prior>\*?)"?[\t ,;|]*'
    r'"?(?P<eff>\d{8})"?[\t ,;|]+"?(?P<del>\d{8}|\*)?"?[\t ,;|]+"?(?P<mod>[019])"?[\t ,;|]*'
    r'"?(?P<why>[^"]*)"?\s*$'
)
#: The start of a line that holds an edit (two codes), whether or not the rest of it reads.
_PTP_DATA = re.compile(r'^\s*"?[0-9A-Z]{5}"?[\t ,;|]+"?[0-9A-Z]{5}"?(?:[\t ,;|]|$)')
_QUARTER = re.compile(r"(20\d\d)[ _-]?q([1-4])", re.IGNORECASE)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_YEAR_MONTH = re.compile(
    r"(?:20)?(\d\d)[ _-]?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", re.IGNORECASE
)
_EFF_DATE = re.compile(r"eff[ _-]?(\d\d)[-_](\d\d)[-_](\d{4})", re.IGNORECASE)


@dataclass(frozen=True)
class ImportOptions:
    """Release id, effective date and setting given on the command line (each may be derived)."""

    release_id: str | None = None
    effective: date | None = None
    setting: Setting | None = None


def _read_text(path: Path) -> str:
    """The file's text; a CMS ``.zip`` archive yields its ``.txt``/``.csv`` members joined."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError("FILE", f"cannot read ({error.strerror})", path) from None
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = sorted(archive.namelist())
                members = [n for n in names if n.lower().endswith((".txt", ".csv"))]
                raw = b"\n".join(archive.read(n) for n in members)
        except zipfile.BadZipFile as error:
            raise InputError("FILE", f"unreadable zip archive ({error})", path) from None
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            raise InputError("FILE", "an Excel workbook (.xlsx); CMS also publishes these tables as text: "
                                     "use that file, or save the sheet as CSV or tab-delimited text", path)
        if not members:
            raise InputError("FILE", "the zip archive holds no .txt or .csv file", path)
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode Text" is UTF-16 with a byte-order mark
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as error:
            raise InputError("FILE", f"starts as UTF-16 text but does not decode ({error.reason})",
                             path) from None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _setting_from_text(text: str) -> Setting | None:
    lowered = text.lower()
    if "ccioph" in lowered or "outpatient" in lowered or "hospital" in lowered or "_oph" in lowered:
        return Setting.HOSPITAL_OUTPATIENT
    if "ccipra" in lowered or "practitioner" in lowered or "_prac" in lowered:
        return Setting.PRACTITIONER
    return None


def _effective_from_name(name: str) -> date | None:
    match = _EFF_DATE.search(name)
    if match:
        return date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    match = _QUARTER.search(name)
    if match:
        return date(int(match.group(1)), 3 * int(match.group(2)) - 2, 1)
    match = _YEAR_MONTH.search(name)
    if match:
        return date(2000 + int(match.group(1)), _MONTHS[match.group(2).lower()], 1)
    return None


def _yyyymmdd(text: str, field: str, path: Path) -> int:
    try:
        return day_int(date(int(text[:4]), int(text[4:6]), int(text[6:8])))
    except ValueError:
        raise InputError(field, f"malformed date {text!r}; expected YYYYMMDD", path) from None


def _iso_or_blank(text: str, field: str, path: Path, blank: int) -> int:
    text = text.strip()
    if not text or text == "*":
        return blank
    try:
        return day_int(date.fromisoformat(text))
    except ValueError:
        if re.fullmatch(r"\d{8}", text):
            return _yyyymmdd(text, field, path)
        raise InputError(field, f"malformed date {text!r}; expected YYYY-MM-DD", path) from None


def _csv_rows(text: str) -> list[list[str]]:
    return [row for _, row in _numbered_rows(text)]


def _numbered_rows(text: str) -> list[tuple[int, list[str]]]:
    """The non-blank CSV rows with the physical line each starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text))
    out = []
    line = 1
    for row in reader:
        if any(cell.strip() for cell in row):
            out.append((line, row))
        line = reader.line_num + 1
    return out


def _norm(cell: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", cell.lower()).strip()


def _header_index(rows: Sequence[Sequence[str]], first_word: str) -> int | None:
    for i, row in enumerate(rows):
        if row and _norm(row[0]).startswith(first_word):
            return i
    return None


# --------------------------------------------------------------------------------------------------
# PTP


def _ptp_from_shared_csv(path: Path, rows: list[list[str]], header: int) -> Iterator[PtpRow]:
    names = [_norm(c).replace(" ", "_") for c in rows[header]]
    col = {name: i for i, name in enumerate(names)}
    for needed in ("setting", "column1", "column2", "modifier_indicator"):
        if needed not in col:
            raise InputError(needed, "column missing from the PTP CSV header", path)
    for n, row in enumerate(rows[header + 1 :], start=header + 2):
        if len(row) < len(names) or _norm(row[0]) == "setting":
            continue
        setting = _setting_from_text(row[col["setting"]])
        if setting is None:
            raise InputError(f"line {n}: setting", f"unknown setting {row[col['setting']]!r}", path)
        indicator = row[col["modifier_indicator"]].strip()
        if indicator not in ("0", "1", "9"):
            raise InputError(f"line {n}: modifier_indicator", f"{indicator!r} is not 0, 1 or 9", path)
        effective = (
            _iso_or_blank(row[col["effective_date"]], f"line {n}: effective_date", path, NO_DATE)
            if "effective_date" in col
            else NO_DATE
        )
        deletion = (
            _iso_or_blank(row[col["deletion_date"]], f"line {n}: deletion_date", path, OPEN_END)
            if "deletion_date" in col
            else OPEN_END
        )
        yield PtpRow(
            setting,
            row[col["column1"]].strip().upper(),
            row[col["column2"]].strip().upper(),
            int(indicator),
            effective,
            deletion,
            row[col["rationale"]].strip() if "rationale" in col else "",
        )


def _ptp_from_cms_text(path: Path, text: str, setting: Setting) -> Iterator[PtpRow]:
    for n, line in enumerate(text.splitlines(), start=1):
        match = _PTP_LINE.match(line)
        if match is None:
            if _PTP_DATA.match(line):  # an edit that does not read is never dropped without a word
                raise InputError(f"line {n}", f"{line.strip()[:80]!r} is not column 1, column 2, an optional "
                                 "'*', effective date YYYYMMDD, deletion date YYYYMMDD or '*' (or blank), "
                                 "modifier indicator 0, 1 or 9", path)
            continue
        deletion = (
            OPEN_END if match["del"] in (None, "*")
            else _yyyymmdd(match["del"], f"line {n}: deletion date", path)
        )
        yield PtpRow(
            setting,
            match["c1"],
            match["c2"],
            int(match["mod"]),
            _yyyymmdd(match["eff"], f"line {n}: effective date", path),
            deletion,
            match["why"].strip(),
        )


def parse_ptp(path: Path, setting: Setting | None = None) -> list[PtpRow]:
    """PTP rows of a CMS quarterly file (tab, fixed-width or comma text) or the shared CSV extract."""
    text = _read_text(path)
    head = text[:4096].lower()
    if "column1" in head and "modifier_indicator" in head:
        rows = _csv_rows(text)
        header = _header_index(rows, "setting")
        if header is None:
            raise InputError("header", "no 'setting,column1,column2,...' header row found", path)
        parsed = list(_ptp_from_shared_csv(path, rows, header))
    else:
        chosen = setting or _setting_from_text(path.name) or _setting_from_text(head)
        if chosen is None:
            raise InputError(
                "--setting",
                "cannot tell practitioner from outpatient hospital by the file name "
                "(ccipra/ccioph); give --setting",
                path,
            )
        parsed = list(_ptp_from_cms_text(path, text, chosen))
    if not parsed:
        raise InputError("rows", "no PTP edit rows found (expected column1, column2, dates, modifier)", path)
    return parsed


# --------------------------------------------------------------------------------------------------
# MUE


def _find_column(names: Sequence[str], *tests: Callable[[str], bool]) -> int | None:
    for test in tests:
        for i, name in enumerate(names):
            if test(name):
                return i
    return None


def parse_mue(path: Path, setting: Setting | None = None) -> list[MueRow]:
    """MUE rows of a CMS MUE CSV (practitioner / outpatient hospital) or the shared CSV extract."""
    text = _read_text(path)
    if "dme" in path.name.lower() or "dme supplier" in text[:2048].lower():
        raise InputError("FILE", "a DME supplier MUE table: its limits apply to suppliers' claims, not to "
                                 "practitioner or outpatient hospital services", path)
    numbered = _numbered_rows(text)
    rows = [row for _, row in numbered]
    header = _header_index(rows, "hcpcs")
    if header is None:
        raise InputError("header", "no header row starting with 'HCPCS' found", path)
    names = [_norm(c) for c in rows[header]]
    code_col = 0
    value_col = _find_column(names, lambda s: s in ("mue value", "mue_value"), lambda s: "mue value" in s)
    mai_col = _find_column(names, lambda s: s == "mai", lambda s: "adjudication" in s)
    why_col = _find_column(names, lambda s: "rationale" in s)
    setting_col = _find_column(names, lambda s: s == "setting")
    if value_col is None or mai_col is None:
        raise InputError("header", "MUE value or MUE adjudication indicator column not found", path)
    default = setting or _setting_from_text(" ".join(names)) or _setting_from_text(path.name)
    if setting_col is None and default is None:
        raise InputError(
            "--setting", "cannot tell the MUE setting from the header or file name; give --setting", path
        )
    parsed: list[MueRow] = []
    for n, row in numbered[header + 1 :]:
        code = row[code_col].strip().upper() if row else ""
        if not CODE_PATTERN.match(code) or len(row) <= max(value_col, mai_col):
            continue
        row_setting = default
        if setting_col is not None and setting is None:
            if "dme" in row[setting_col].lower():
                continue
            row_setting = _setting_from_text(row[setting_col])
        if row_setting is None:
            shown = row[setting_col] if setting_col is not None else ""
            raise InputError(f"line {n}: setting", f"unknown setting {shown!r}", path)
        mai_match = re.match(r"\s*([123])", row[mai_col])
        if not is_digits(row[value_col].strip()) or mai_match is None:
            raise InputError(f"line {n}: {code}", "MUE value must be a whole number and MAI 1, 2 or 3", path)
        why = row[why_col].strip() if why_col is not None and why_col < len(row) else ""
        parsed.append(MueRow(row_setting, code, int(row[value_col]), int(mai_match.group(1)), why))
    if not parsed:
        raise InputError("rows", "no MUE rows found", path)
    return parsed


# --------------------------------------------------------------------------------------------------
# RVU


def _float(text: str, field: str, path: Path) -> float:
    try:
        return float(text.strip() or 0.0)
    except ValueError:
        raise InputError(field, f"{text!r} is not a number", path) from None


#: Header lines above the ``HCPCS`` line that a column's name may be stacked over (PPRRVU writes up to 4:
#: ``FACILITY`` / ``NA`` / ``INDICATOR``, one word a line).
_HEADER_STACK = 5


def _stacked_names(rows: Sequence[Sequence[str]], header: int) -> list[str]:
    """Each column's name read down the header lines above ``header`` (those with an empty first cell)."""
    stack: list[Sequence[str]] = []
    for row in reversed(rows[max(0, header - _HEADER_STACK):header]):
        if row and row[0].strip():
            break
        stack.insert(0, row)
    stack.append(rows[header])
    width = len(rows[header])
    return [_norm(" ".join(row[i] if i < len(row) else "" for row in stack)) for i in range(width)]


def parse_rvu(path: Path) -> list[RvuRow]:
    """RVU rows of a CMS PPRRVU CSV (two-line header) or the shared CSV extract; descriptors are dropped."""
    numbered = _numbered_rows(_read_text(path))
    rows = [row for _, row in numbered]
    header = _header_index(rows, "hcpcs")
    if header is None:
        raise InputError("header", "no header row starting with 'HCPCS' found", path)
    names = _stacked_names(rows, header)
    find = {
        "mod": _find_column(names, lambda s: s in ("mod", "modifier")),
        "status": _find_column(names, lambda s: "status" in s),
        "pctc": _find_column(names, lambda s: "pctc" in s),
        "work": _find_column(names, lambda s: "work" in s and "rvu" in s),
        "total_nf": _find_column(names, lambda s: "total" in s and ("nonfac" in s or "non fac" in s)),
        "total_f": _find_column(names, lambda s: "total" in s and "facility" in s and "non" not in s),
        "na": _find_column(
            names,
            lambda s: "na flag" in s,
            lambda s: "facility" in s and "indicator" in s and "non" not in s,
        ),
        "cf": _find_column(names, lambda s: "conv" in s),
    }
    missing = [key for key, col in find.items() if col is None]
    if missing:
        raise InputError("header", f"RVU columns not found: {', '.join(missing)}", path)
    col = {key: int(value) for key, value in find.items() if value is not None}
    parsed: list[RvuRow] = []
    for n, row in numbered[header + 1 :]:
        code = row[0].strip().upper() if row else ""
        if not CODE_PATTERN.match(code) or len(row) <= max(col.values()):
            continue
        where = f"line {n}"
        pctc = row[col["pctc"]].strip()
        total_f = row[col["total_f"]].strip()
        parsed.append(
            RvuRow(
                code,
                row[col["mod"]].strip().upper(),
                row[col["status"]].strip().upper(),
                int(pctc) if is_digits(pctc) else None,
                _float(row[col["work"]], f"{where}: work RVU", path),
                _float(row[col["total_nf"]], f"{where}: non-facility total", path),
                _float(total_f, f"{where}: facility total", path) if total_f else None,
                row[col["na"]].strip().upper() == "NA",
                _float(row[col["cf"]], f"{where}: conversion factor", path),
            )
        )
    if not parsed:
        raise InputError("rows", "no RVU rows found", path)
    return parsed


# --------------------------------------------------------------------------------------------------


def _checksum(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _mue_effective(path: Path) -> date | None:
    text = _read_text(path)[:8192]
    match = re.search(r"(\d{4}-\d\d-\d\d)\s*$", text.splitlines()[1] if "\n" in text else "")
    return date.fromisoformat(match.group(1)) if match else None


def import_files(
    kind: TableKind,
    paths: Sequence[Path],
    options: ImportOptions = ImportOptions(),
    on_file: Callable[[Path], None] | None = None,
) -> Table:
    """Parse ``paths`` into one release table of ``kind`` (not yet saved; see :class:`RefStore`).

    ``on_file`` is called after each file is parsed (progress reporting).
    """
    if not paths:
        raise InputError("FILE", "give at least one file to import")
    effective = options.effective
    if effective is None:
        derived = {d for d in (_effective_from_name(p.name) for p in paths) if d is not None}
        if kind is TableKind.MUE and not derived:
            derived = {d for d in (_mue_effective(p) for p in paths) if d is not None}
        if len(derived) != 1:
            raise InputError(
                "--effective",
                "cannot derive one effective date from the file names "
                f"({', '.join(p.name for p in paths)}); give --effective YYYY-MM-DD",
            )
        effective = derived.pop()
    release_id = options.release_id or f"{kind.value}-{effective.isoformat()}"
    sources = ", ".join(p.name for p in paths)
    table: Table
    if kind is TableKind.PTP:
        ptp_rows = dedupe_ptp(row for p in paths for row in _done(parse_ptp(p, options.setting), p, on_file))
        settings = tuple(sorted({r.setting for r in ptp_rows}, key=list(Setting).index))
        release = _release(release_id, kind, effective, settings, sources, paths)
        table = PtpTable.from_rows(release, ptp_rows)
    elif kind is TableKind.MUE:
        mue_rows = [row for p in paths for row in _done(parse_mue(p, options.setting), p, on_file)]
        settings = tuple(sorted({r.setting for r in mue_rows}, key=list(Setting).index))
        table = MueTable.from_rows(_release(release_id, kind, effective, settings, sources, paths), mue_rows)
    else:
        rvu_rows = [row for p in paths for row in _done(parse_rvu(p), p, on_file)]
        table = RvuTable.from_rows(
            _release(release_id, kind, effective, tuple(Setting), sources, paths), rvu_rows
        )
    return table


def _done(rows: list[_Row], path: Path, on_file: Callable[[Path], None] | None) -> list[_Row]:
    if on_file is not None:
        on_file(path)
    return rows


def _release(
    release_id: str,
    kind: TableKind,
    effective: date,
    settings: tuple[Setting, ...],
    sources: str,
    paths: Sequence[Path],
) -> ReleaseInfo:
    return ReleaseInfo(
        id=release_id,
        kind=kind,
        effective=effective,
        settings=settings,
        source=f"CMS {kind.value.upper()} files: {sources} (sha256 {_checksum(paths)[:16]})",
        files=tuple(str(p) for p in paths),
    )
