"""Hostile X12 files (issue 19): what is not a regular file of plausible size is refused before reading."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecgdesk.claims import x12
from ecgdesk.errors import InputError


def test_a_named_pipe_is_refused_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "835.txt"
    os.mkfifo(fifo)  # opening it would block until a writer came
    with pytest.raises(InputError, match="not a regular file"):
        x12.read_file(fifo)


def test_a_device_is_refused() -> None:
    with pytest.raises(InputError, match="not a regular file"):
        x12.read_file("/dev/zero")  # read_bytes() on it never ends


def test_a_file_larger_than_any_interchange_is_refused_unread(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.835"
    big.write_bytes(b"ISA*" + b"0" * 2000)
    monkeypatch.setattr(x12, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InputError, match=r"2004 bytes.*at most 1000"):
        x12.read_file(big)
