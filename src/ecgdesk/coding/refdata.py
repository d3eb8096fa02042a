"""The reference-data store: imported CMS releases on disk, and the choice of the release in force.

Layout under the store root (``$ECGDESK_REFDATA_DIR``, default ``~/.local/share/ecgdesk/refdata``)::

    <kind>/<release id>/manifest.json   id, kind, settings, effective date, source files, checksum
    <kind>/<release id>/table.npz       the table as column arrays (uncompressed: loads fast)

The scrubber asks :class:`RefData` for the table of a kind in force for a setting on a date of service:
the imported release with the latest effective date on or before it, else the built-in baseline (and it
says so, so a finding can tell the user).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ecgdesk.coding.facts import Setting
from ecgdesk.coding.tables import (
    MueTable,
    PtpTable,
    ReleaseInfo,
    RvuTable,
    Table,
    TableKind,
    baseline,
    table_from_arrays,
    table_to_arrays,
)
from ecgdesk.errors import InputError

REFDATA_ENV = "ECGDESK_REFDATA_DIR"
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def default_refdata_dir() -> Path:
    """``$ECGDESK_REFDATA_DIR`` if set, else ``~/.local/share/ecgdesk/refdata``."""
    configured = os.environ.get(REFDATA_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "share" / "ecgdesk" / "refdata"


class RefStore:
    """Imported releases in one directory."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_refdata_dir()

    def _folder(self, kind: TableKind, release_id: str) -> Path:
        return self.root / kind.value / release_id

    def save(self, table: Table) -> ReleaseInfo:
        """Write ``table`` as a release; replaces an earlier release with the same id and kind."""
        release = table.release
        if not RELEASE_ID.match(release.id):
            raise InputError("--release-id", f"{release.id!r} must be letters, digits, '.', '_' or '-'")
        buffer = io.BytesIO()
        arrays: dict[str, Any] = dict(table_to_arrays(table))
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
        checksum = hashlib.sha256(payload).hexdigest()
        saved = replace(
            release,
            checksum=checksum,
            rows=len(table),
            imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            builtin=False,
        )
        folder = self._folder(release.kind, release.id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "table.npz").write_bytes(payload)
        (folder / "manifest.json").write_text(json.dumps(saved.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.utime(folder.parent)  # readers watch the kind folder to notice new or replaced releases
        return saved

    def releases(self, kind: TableKind | None = None) -> list[ReleaseInfo]:
        """Every stored release (of ``kind``), oldest effective date first."""
        kinds = [kind] if kind is not None else list(TableKind)
        found: list[ReleaseInfo] = []
        for each in kinds:
            folder = self.root / each.value
            if not folder.is_dir():
                continue
            for manifest in sorted(folder.glob("*/manifest.json")):
                try:
                    found.append(ReleaseInfo.from_dict(json.loads(manifest.read_text(encoding="utf-8"))))
                except (ValueError, KeyError, TypeError) as error:
                    raise InputError("manifest", f"unreadable release manifest ({error})", manifest) from None
        return sorted(found, key=lambda r: (r.kind.value, r.effective, r.id))

    def load(self, release: ReleaseInfo) -> Table:
        """The table of a stored release (cached in memory by path and checksum)."""
        path = self._folder(release.kind, release.id) / "table.npz"
        try:
            stat = path.stat()
        except OSError as error:
            raise InputError("table.npz", f"cannot read the release table ({error.strerror})", path) from None
        return _load_table(str(path), release, stat.st_mtime_ns, stat.st_size)

    def in_force(self, kind: TableKind, setting: Setting, day: date) -> ReleaseInfo | None:
        """The release of ``kind`` covering ``setting`` with the latest effective date <= ``day``."""
        candidates = [r for r in self.releases(kind) if setting in r.settings and r.effective <= day]
        return max(candidates, key=lambda r: (r.effective, r.imported_at), default=None)


@lru_cache(maxsize=16)
def _load_table(path: str, release: ReleaseInfo, mtime_ns: int, size: int) -> Table:
    """Read and verify a table; the file's mtime and size are part of the cache key."""
    try:
        payload = Path(path).read_bytes()
    except OSError as error:
        raise InputError("table.npz", f"cannot read the release table ({error.strerror})", path) from None
    if release.checksum and hashlib.sha256(payload).hexdigest() != release.checksum:
        raise InputError(
            "checksum", "the release table does not match its manifest checksum; import it again", path
        )
    with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
        return table_from_arrays(release, {name: arrays[name] for name in arrays.files})


def clear_table_cache() -> None:
    """Forget tables loaded in this process (the next :meth:`RefStore.load` reads the file again)."""
    _load_table.cache_clear()


@dataclass(frozen=True)
class Resolved:
    """A table chosen for a date of service, and whether it is the built-in fallback."""

    table: Table
    fallback: bool


class RefData:
    """The scrubber's view of reference data: release in force per (kind, setting, day), else baseline.

    ``RefData(None)`` uses the built-in baseline only (no store). Release lists are read once.
    """

    def __init__(self, store: RefStore | None = None) -> None:
        self.store = store
        self._releases: dict[TableKind, list[ReleaseInfo]] = {}
        self._chosen: dict[tuple[TableKind, Setting, date], Resolved] = {}

    @classmethod
    def from_env(cls) -> RefData:
        """The default store (``$ECGDESK_REFDATA_DIR``); baseline only where it does not exist."""
        store = RefStore()
        return cls(store if store.root.is_dir() else None)

    def resolve(self, kind: TableKind, setting: Setting, day: date) -> Resolved:
        key = (kind, setting, day)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._resolve(kind, setting, day)
            self._chosen[key] = chosen
        return chosen

    def _resolve(self, kind: TableKind, setting: Setting, day: date) -> Resolved:
        if self.store is not None:
            if kind not in self._releases:
                self._releases[kind] = self.store.releases(kind)
            candidates = [r for r in self._releases[kind] if setting in r.settings and r.effective <= day]
            if candidates:
                release = max(candidates, key=lambda r: (r.effective, r.imported_at))
                return Resolved(self.store.load(release), fallback=False)
        return Resolved(baseline(kind), fallback=True)

    def ptp(self, setting: Setting, day: date) -> PtpTable:
        table = self.resolve(TableKind.PTP, setting, day).table
        assert isinstance(table, PtpTable)
        return table

    def mue(self, setting: Setting, day: date) -> MueTable:
        table = self.resolve(TableKind.MUE, setting, day).table
        assert isinstance(table, MueTable)
        return table

    def rvu(self, setting: Setting, day: date) -> RvuTable:
        table = self.resolve(TableKind.RVU, setting, day).table
        assert isinstance(table, RvuTable)
        return table
