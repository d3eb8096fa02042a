"""One voice for every error ECG Desk raises to a user.

Every error names *where* (a file or a parameter), *which field* and *why*. The CLI prints the message
without a traceback and exits with :data:`EXIT_USAGE` (2); anything else that escapes a command is a bug,
printed as one line with :data:`EXIT_INTERNAL` (3).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
EXIT_INTERNAL = 3


class EcgDeskError(Exception):
    """Base class of every error that is the user's input, not a bug."""

    exit_code = EXIT_USAGE


class InputError(EcgDeskError, ValueError):
    """A value given by the user (parameter, JSON field, CSV cell) is not acceptable.

    Parameters
    ----------
    field
        The parameter or field name, e.g. ``"fs"`` or ``"lines[2].code"``.
    reason
        Why it is refused, in words a user understands.
    source
        The file it came from, when there is one.
    """

    def __init__(self, field: str, reason: str, source: str | Path | None = None) -> None:
        self.field = field
        self.reason = reason
        self.source = str(source) if source is not None else None
        where = f"{self.source}: " if self.source else ""
        super().__init__(f"{where}field '{field}': {reason}")


class RecordingError(InputError):
    """A recording file cannot be read: names the file, the field and the reason."""

    def __init__(self, path: str | Path, field: str, reason: str) -> None:
        super().__init__(field, reason, source=path)
        self.path = Path(path)


class NotFoundError(InputError):
    """An id that names nothing (a study, a user, a token): HTTP 404."""


class ConflictError(InputError):
    """A move the study lifecycle refuses in the current state (sign before report, a changed report):
    HTTP 409."""


class AuthenticationError(EcgDeskError):
    """No valid identity: wrong or missing password, token or session (HTTP 401, exit 2)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TooManyAttemptsError(EcgDeskError):
    """Too many refused logins from one client address in the limit's window (HTTP 429 with Retry-After,
    exit 2); ``retry_after_s``: seconds until the oldest counted refusal leaves the window."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        self.reason, self.retry_after_s = reason, retry_after_s
        super().__init__(reason)


class PermissionDeniedError(EcgDeskError):
    """The acting user's role may not do this (HTTP 403, exit 2); the refusal is in the audit log."""

    def __init__(
        self, username: str, role: str, action: str, allowed: Iterable[str], reason: str | None = None
    ) -> None:
        self.username, self.role, self.action = username, role, action
        self.allowed = tuple(allowed)
        who = ", ".join(self.allowed) or "nobody"
        super().__init__(reason or f"{username!r} is {a_role(role)}; '{action}' is for: {who}")


class PasswordChangeRequiredError(PermissionDeniedError):
    """The user's password was set by an administrator (or is below the password rule): until they change
    it, everything else is refused (HTTP 403 of this type, exit 2; audited)."""


#: A role's value (``store.enums.Role``) as a person says it, where it differs from the value.
_ROLE_WORDS = {"admin": "administrator"}


def a_role(role: str) -> str:
    """``role`` as a noun with its article, for a sentence: "a technician", "an administrator" (the refusal
    said "is a admin")."""
    word = _ROLE_WORDS.get(role, role)
    article = "an" if word[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    return f"{article} {word}"


def is_digits(text: str) -> bool:
    """``text`` is one or more ASCII digits 0-9: what every number and code field of our formats means by
    a digit (``str.isdigit`` also takes superscripts and other scripts' digits, which ``int`` refuses or
    reads as another number)."""
    return text.isascii() and text.isdigit()


def check_option(parameter: str, value: Any, allowed: Iterable[Any], source: str | Path | None = None) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise :class:`InputError` listing the options.

    >>> check_option("to", "wfdb", ["wfdb", "ishne"])
    'wfdb'
    """
    options = list(allowed)
    if value not in options:
        shown = ", ".join(repr(o) for o in options)
        raise InputError(
            parameter,
            f"invalid value {value!r}; allowed values are {shown}",
            source=source,
        )
    return value


def check_positive(parameter: str, value: float, source: str | Path | None = None) -> float:
    """Return ``value`` if it is a finite number > 0, else raise :class:`InputError`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(parameter, f"must be a positive number, got {value!r}", source=source) from None
    if not number > 0 or number == float("inf"):
        raise InputError(parameter, f"must be a positive finite number, got {value!r}", source=source)
    return number


def _identity(path: Path) -> tuple[object, ...]:
    try:
        info = os.stat(path)
    except OSError:
        return ("path", str(path.resolve()))
    return ("inode", info.st_dev, info.st_ino)


def check_not_overwriting(outputs: Iterable[str | Path], inputs: Iterable[str | Path],
                          parameter: str) -> None:
    """Refuse (:class:`InputError` on ``parameter``) an output file that is one of the input files.

    Paths are compared after links are followed, and by device and inode where the file exists, so a
    second name for the same file (a hard link, ``./beats.csv`` and ``beats.csv``) is caught too.
    """
    taken = {_identity(Path(p)): Path(p) for p in inputs}
    for output in outputs:
        source = taken.get(_identity(Path(output)))
        if source is not None:
            raise InputError(parameter, f"writing {output} would overwrite the input {source}; choose "
                                        "another output folder", source)
