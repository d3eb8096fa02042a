"""JSON a user hands us (facts, claims, claim histories, stress protocols, event specs): read with limits.

``json.loads`` alone turns hostile input into tracebacks or absurd values: a 5,000-digit integer raises
``ValueError`` (Python's digit limit), ``[[[[...]]]]`` nested 100,000 deep raises ``RecursionError``,
``NaN``/``Infinity`` and ``1e999`` become non-finite floats that then pass ``>= 0`` checks. Here each is an
:class:`~ecgdesk.errors.InputError` naming the file, and files too large to be such a document are refused
before they are read.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ecgdesk.errors import InputError

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_INT_DIGITS = 18  # no count, amount or identifier we read is longer; more is an absurd number


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits is out of range (at most {MAX_INT_DIGITS})")
    return int(text)


def _depth_ok(data: Any) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice in one object (which one counts is up to "
                                 "the parser)")
            seen.add(key)
    return data


def loads(
    text: str, field: str = "<json>", source: str | Path | None = None, unique_keys: bool = False
) -> Any:
    """Parse ``text``; malformed, too deep or absurd numbers raise :class:`InputError` on ``field``, and with
    ``unique_keys`` a key repeated in one object (a message parsers would read differently, RFC 8259 4)."""
    try:
        data = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int,
                          object_pairs_hook=_unique_keys if unique_keys else None)
    except json.JSONDecodeError as error:
        raise InputError(field, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}",
                         source) from None
    except RecursionError:
        raise InputError(field, f"JSON nested deeper than {MAX_DEPTH} levels", source) from None
    except ValueError as error:  # from the hooks above
        raise InputError(field, f"invalid JSON: {error}", source) from None
    if not _depth_ok(data):
        raise InputError(field, f"JSON nested deeper than {MAX_DEPTH} levels", source)
    return data


def read(path: str | Path, field: str = "<json>") -> Any:
    """Read and parse the JSON file at ``path`` (UTF-8, at most :data:`MAX_BYTES`)."""
    path = Path(path)
    try:
        size = os.stat(path).st_size
        if size > MAX_BYTES:
            raise InputError(field, f"a JSON document of {size} bytes is larger than we read (at most "
                                    f"{MAX_BYTES} bytes)", path)
        if not path.is_file():
            raise InputError(field, "is not a regular file", path)
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(field, f"cannot read: {error.strerror or error}", path) from None
    except UnicodeDecodeError as error:
        raise InputError(field, f"is not UTF-8 text (byte {error.start})", path) from None
    return loads(text, field, path)
