"""Content-addressed, read-only storage of recording files.

A recording may be several files (WFDB ``.hea`` + ``.dat`` + annotations). Its address is the SHA-256 of
a manifest that lists each file's name and SHA-256, sorted by name. The files are copied into a temporary
folder beside the destination, made read-only (0444) and the folder renamed into place in one step, so an
interrupted import leaves no half-written blob; importing the same content again finds the blob and reuses
it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecgdesk.errors import InputError

READ_ONLY = 0o444
SWEEP_AFTER_S = 3600.0  # no import copies for an hour: a temporary folder this old was left by a kill
#: The sweep walks every blob folder, so it runs once per store every this many seconds in a process, not
#: at every import: at thousands of monitoring strips an hour it was the import's largest fixed cost, and
#: it grew with the store.
SWEEP_EVERY_S = 600.0
_LAST_SWEEP: dict[Path, float] = {}
_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    relative_dir: str
    files: tuple[str, ...]
    size_bytes: int
    created: bool

    def path(self, root: Path, name: str) -> Path:
        return root / self.relative_dir / name


def manifest_sha256(entries: Sequence[tuple[str, str]]) -> str:
    """SHA-256 of ``name sha256`` lines, sorted by name."""
    text = "".join(f"{name} {sha}\n" for name, sha in sorted(entries))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sweep_temporary(root: Path, older_than_s: float = SWEEP_AFTER_S) -> int:
    """Remove the temporary folders of imports killed before they finished (older than ``older_than_s``,
    so that an import still running in another process keeps its own)."""
    removed = 0
    cutoff = time.time() - older_than_s
    for shard in root.iterdir() if root.is_dir() else ():
        for child in shard.iterdir() if shard.is_dir() else ():
            with contextlib.suppress(OSError):
                if child.name.startswith(".") and child.is_dir() and child.stat().st_mtime < cutoff:
                    _remove_tree(child)
                    removed += 1
    return removed


def put_files(root: Path, files: Sequence[Path]) -> StoredBlob:
    """Store ``files`` (distinct base names) under ``root``; ``created`` is False if already there."""
    stamp = time.monotonic()
    if stamp - _LAST_SWEEP.get(root, -SWEEP_EVERY_S) >= SWEEP_EVERY_S:
        _LAST_SWEEP[root] = stamp
        sweep_temporary(root)
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise InputError("path", f"two files with the same name in one recording: {names}")
    entries = []
    for f in files:
        try:
            entries.append((f.name, file_sha256(f)))
        except OSError as error:
            raise InputError("path", f"cannot read: {error.strerror or error}", f) from None
    sha = manifest_sha256(entries)
    relative = f"{sha[:2]}/{sha}"
    target = root / relative
    size = sum(f.stat().st_size for f in files)
    if target.is_dir():
        return StoredBlob(sha, relative, tuple(sorted(names)), size, created=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}.", dir=target.parent))
    try:
        for f in files:
            copied = tmp / f.name
            shutil.copyfile(f, copied)
            os.chmod(copied, READ_ONLY)
        if file_sha256_all(tmp, names) != sha:
            raise InputError("path", "a file changed while it was being imported; import it again", files[0])
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # another process stored the same content at the same moment
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return StoredBlob(sha, relative, tuple(sorted(names)), size, created=False)
    except BaseException:
        _remove_tree(tmp)
        raise
    return StoredBlob(sha, relative, tuple(sorted(names)), size, created=True)


def file_sha256_all(folder: Path, names: Sequence[str]) -> str:
    return manifest_sha256([(name, file_sha256(folder / name)) for name in names])


def remove_blob(root: Path, relative_dir: str) -> None:
    """Delete a blob folder (only used to undo a blob whose database row was rolled back)."""
    _remove_tree(root / relative_dir)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for child in path.iterdir():
        os.chmod(child, 0o644)
    shutil.rmtree(path, ignore_errors=True)
