"""Multipart uploads streamed straight to disk, with a size limit checked while receiving.

Starlette's form parsing would spool every file to a temporary file first and only then let us look; here
each part is written into the upload folder as it arrives (python-multipart's push parser), the total is
checked against the limit on every chunk (413 the moment it is passed), and file names are refused unless
they are plain names (no folders, no '..', no control characters), so a name cannot place a file
anywhere else.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import IO

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from ecgdesk.errors import InputError, is_digits
from ecgdesk.service.errors import ServiceError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
FIELD = "files"
MAX_FILES = 64


def safe_name(name: str, index: int) -> str:
    if not SAFE_NAME.match(name) or ".." in name:
        raise InputError(
            f"files[{index}].filename",
            f"{name[:80]!r} is not a plain file name (letters, digits, '.', '_', '+', '-'; no folders)",
        )
    return name


class _Receiver:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: list[Path] = []
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.out: IO[bytes] | None = None
        self.error: Exception | None = None
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        index = len(self.files)
        if name != FIELD or raw is None:
            raise InputError(
                f"form.{name[:40]}", f"unexpected form field; send the recording's files as {FIELD!r}"
            )
        if index >= MAX_FILES:
            raise InputError("files", f"at most {MAX_FILES} files per recording")
        filename = safe_name(raw.decode("utf-8", "replace"), index)
        path = self.folder / filename
        if path.exists():
            raise InputError(f"files[{index}].filename", f"{filename!r} is sent twice")
        self.files.append(path)
        self.out = open(path, "xb")  # noqa: SIM115 - closed at the part's end or on failure

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        assert self.out is not None
        self.out.write(data[start:end])

    def on_part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        self.on_part_end()


async def receive_files(request: Request, folder: Path, limit: int) -> list[Path]:
    """Write the ``files`` parts of a multipart request into ``folder`` (created; removed on failure)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise InputError(
            "content-type", "send the recording as multipart/form-data with a 'files' part per file"
        )
    declared = request.headers.get("content-length")
    if declared is not None and is_digits(declared) and int(declared) > limit:
        raise ServiceError(
            413, "content-length", f"{int(declared)} bytes is over the upload limit of {limit}", "too_large"
        )
    folder.mkdir(parents=True, exist_ok=False)
    receiver = _Receiver(folder)
    callbacks = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
            "on_end",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise ServiceError(
                    413, "files", f"the upload is over the limit of {limit} bytes", "too_large"
                )
            parser.write(chunk)
        parser.finalize()
        receiver.close()
        if not receiver.files:
            raise InputError("files", "no file was uploaded")
        # The parser's finalize() does not check this: without it, a body cut short (a client or proxy that
        # stopped sending) was kept with its last file truncated, and a CSV cut short reads as a shorter ECG.
        if not receiver.ended:
            raise InputError(
                "files", "the multipart body ends before its closing boundary: the upload was cut short"
            )
        return receiver.files
    except BaseException as error:
        receiver.close()
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, (InputError, ServiceError)) or not isinstance(error, Exception):
            raise
        raise InputError("files", f"malformed multipart body ({type(error).__name__}: {error})") from None
