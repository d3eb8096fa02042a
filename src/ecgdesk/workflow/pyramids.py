"""Where a stored recording's min/max pyramid lives, and building it when it is missing.

The pyramid is content-addressed like the recording: it sits beside the recording's blob folder
(``blobs/ab/<sha256>.pyramid-v1``), so a recording imported into several studies is built once, and a
new pyramid format (a new version) is built beside the old one instead of over it. ``study import`` builds
it; a study imported before pyramids existed gets its pyramid at its first signal read.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ecgdesk.errors import InputError
from ecgdesk.records import Recording, open_recording
from ecgdesk.records.pyramid import HEADER_FILE, VERSION, Progress, Pyramid, build_pyramid, remove_pyramid
from ecgdesk.store import Store


def pyramid_folder(store: Store, blob_dir: str) -> Path:
    """The pyramid folder of the recording stored in ``blob_dir`` (relative to the blob root)."""
    return store.blob_root / f"{blob_dir}.pyramid-v{VERSION}"


@functools.lru_cache(maxsize=32)
def _open(folder: Path, stamp: int) -> Pyramid:
    """Opened once per process while its header is unchanged (``stamp``: the header's mtime)."""
    return Pyramid.open(folder)


def open_blob_recording(store: Store, blob_dir: str, main_file: str) -> Recording:
    """The stored recording, opened once per process: blobs never change, a recording reads lazily, and
    opening parses headers and event files (20 ms for a 14-day WFDB record), too slow for every window."""
    return _open_recording(store.blob_root / blob_dir / main_file)


@functools.lru_cache(maxsize=8)
def _open_recording(path: Path) -> Recording:
    return open_recording(path)


def ensure_pyramid(
    store: Store, blob_dir: str, main_file: str, sha256: str, progress: Progress | None = None
) -> Pyramid:
    """Open the recording's pyramid, building it first if it is absent (or unreadable)."""
    folder = pyramid_folder(store, blob_dir)
    header = folder / HEADER_FILE
    if header.is_file():
        try:
            return _open(folder, header.stat().st_mtime_ns)
        except InputError:
            remove_pyramid(folder)  # damaged (e.g. a disk error): build it again, not fail every read
    recording = open_blob_recording(store, blob_dir, main_file)
    return build_pyramid(recording, folder, progress, metadata={"recording_sha256": sha256})
