"""Small helpers shared by command modules: JSON printing and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ecgdesk.errors import InputError, RecordingError, is_digits

if TYPE_CHECKING:
    from tqdm import tqdm

    from ecgdesk.store import Store


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def progress(total: float, desc: str, unit: str = "s") -> tqdm:
    """A progress bar on stderr; silent when stderr is not a terminal (CI logs, pipes)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty(),
                dynamic_ncols=True)


def read_text_option(path: str, option: str) -> str:
    """The UTF-8 text of the file an option names; a missing or undecodable file is an input error."""
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(option, f"cannot read: {error.strerror or error}", path) from None
    except UnicodeDecodeError as error:
        raise InputError(option, f"is not UTF-8 text (byte {error.start})", path) from None


@contextmanager
def options_named(options: Mapping[str, str]) -> Iterator[None]:
    """Errors about a library parameter (``days``, ``csv_fs``) name the option the user typed instead
    (``--hours``, ``--csv-fs``), so the message points at something that exists on this command."""
    try:
        yield
    except InputError as error:
        option = options.get(error.field)
        if option is None:
            raise
        if isinstance(error, RecordingError):
            raise RecordingError(error.path, option, error.reason) from None
        raise InputError(option, error.reason, error.source) from None


_COMMAND_STORES: list[Store] = []


def command_store() -> Store:
    """The store a command works on (``$ECGDESK_DATABASE_URL``, ``$ECGDESK_HOME``), closed by ``main`` when
    the command ends: a pooled connection left to the garbage collector is a ResourceWarning, and on
    PostgreSQL a server backend held until the collector runs (many commands run in one test process)."""
    from ecgdesk.store import open_store

    store = open_store()
    _COMMAND_STORES.append(store)
    return store


def close_command_stores() -> None:
    while _COMMAND_STORES:
        _COMMAND_STORES.pop().close()


def lead_argument(value: str) -> str | int:
    """A lead as the commands take it: an index when all digits (two leads may share a name, e.g. both
    "ECG"), else a name."""
    return int(value) if is_digits(value) else value


#: ``--overlap-reason`` of ``study create`` and ``monitor enroll`` (workflow.monitoring_sets)
OVERLAP_REASON_HELP = (
    "a documented medical-necessity reason to order a Holter, event or telemetry set completing within 29 "
    "days of another set of the patient (audited; its claim is still held)"
)
