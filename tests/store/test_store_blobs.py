"""Blob store housekeeping: temporary folders left by a killed import are swept, now and then."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ecgdesk.store import blobs
from ecgdesk.store.blobs import SWEEP_AFTER_S, put_files


def _stale_folder(root: Path, name: str) -> Path:
    folder = root / "ab" / name
    folder.mkdir(parents=True)
    old = time.time() - SWEEP_AFTER_S - 60
    os.utime(folder, (old, old))
    return folder


def test_a_killed_imports_folder_is_swept_once_per_interval_not_at_every_import(tmp_path: Path) -> None:
    root, source = tmp_path / "blobs", tmp_path / "a.csv"
    source.write_text("time,ecg\n0,1\n")
    first = _stale_folder(root, ".killed-import-1")
    put_files(root, [source])
    assert not first.exists()
    second = _stale_folder(root, ".killed-import-2")
    source.write_text("time,ecg\n0,2\n")
    put_files(root, [source])
    assert second.exists()  # the walk over every blob folder is not repeated at each import
    blobs._LAST_SWEEP[root] -= blobs.SWEEP_EVERY_S
    source.write_text("time,ecg\n0,3\n")
    put_files(root, [source])
    assert not second.exists()
