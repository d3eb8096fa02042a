"""One conformance check run against every reader (after MNE's ``_test_raw_reader``).

Not a test module: test modules import :func:`check_reader` and give it a recording plus, where there is
one, the physical values (mV) that a reference tool (wfdb, pyedflib, pydicom) or the writer's input gives.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np

from ecgdesk.records import Lead, Recording, _ishne, open_writer


def check_reader(recording: Recording, reference: np.ndarray | None = None, atol: float = 1e-5) -> np.ndarray:
    """Slices agree with a whole read, chunks tile the whole, and values match ``reference``.

    Returns the whole read (mV, float32, ``(n_samples, n_leads)``).
    """
    n, k = recording.n_samples, recording.n_leads
    whole = recording.read()
    assert whole.dtype == np.float32
    assert whole.shape == (n, k)
    assert n > 10

    rng = np.random.default_rng(7)
    bounds = [(0, 1), (n - 1, n), (n // 3, n // 3 + 17), (0, n)]
    for _ in range(6):
        start = int(rng.integers(0, n - 1))
        bounds.append((start, int(rng.integers(start + 1, n + 1))))
    for start, stop in bounds:
        np.testing.assert_array_equal(recording.read(start, stop), whole[start:stop])
    assert recording.read(n, n + 10).shape == (0, k)
    np.testing.assert_array_equal(recording.read(n - 5, n + 10), whole[n - 5:])

    # leads by name, reordered, and by index
    names = recording.lead_names
    np.testing.assert_array_equal(recording.read(2, 50, leads=[names[-1], names[0]]), whole[2:50, [k - 1, 0]])
    np.testing.assert_array_equal(recording.read(2, 50, leads=k - 1), whole[2:50, [k - 1]])

    # chunks with overlap: each chunk is the matching slice, the cores tile the recording exactly
    seconds = max(n / recording.fs / 4.3, 2.0 / recording.fs)
    overlap = min(1.0, seconds / 2)
    cores = []
    previous_stop = 0
    for chunk in recording.iter_chunks(seconds=seconds, overlap=overlap):
        assert chunk.core_start == previous_stop
        assert chunk.start <= chunk.core_start < chunk.core_stop <= chunk.stop
        np.testing.assert_array_equal(chunk.data, whole[chunk.start:chunk.stop])
        cores.append(chunk.data[chunk.core_start - chunk.start: chunk.core_stop - chunk.start])
        previous_stop = chunk.core_stop
    assert previous_stop == n and len(cores) >= 4
    np.testing.assert_array_equal(np.concatenate(cores), whole)

    if reference is not None:
        assert reference.shape == whole.shape
        np.testing.assert_allclose(whole, reference, atol=atol, rtol=0)
    return whole


def file_digest(path: Path) -> str:
    """SHA-256 of a file, to show a reader left its input unchanged."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ishne_file(folder: Path, n: int = 1000) -> Path:
    """A two-lead ISHNE Holter file of ``n`` samples at 250 Hz, for header edits."""
    with open_writer(folder, "hol", "ishne", 250, [Lead("I"), Lead("II")]) as writer:
        writer.write(np.ones((n, 2)))
    return folder / "hol.ecg"


def patch_ishne(path: Path, offset: int, fmt: str, *values: int, fix_crc: bool = True) -> None:
    """Write ``values`` at ``offset`` of an ISHNE header and, unless ``fix_crc`` is False, make its CRC match
    again (so that the edit, not a stale checksum, is what the reader meets)."""
    raw = bytearray(path.read_bytes())
    struct.pack_into(fmt, raw, offset, *values)
    if fix_crc:
        ecg_offset = struct.unpack_from("<i", raw, 22)[0]
        struct.pack_into("<H", raw, 8, _ishne.crc16(bytes(raw[10:ecg_offset])))
    path.write_bytes(bytes(raw))
