"""``ecgdesk`` entry point: builds the parser from each command module and maps errors to exit codes.

Exit status: 0 done, 1 the command's own "found problems" (scrubber errors, a broken audit chain), 2 bad
input (:class:`~ecgdesk.errors.EcgDeskError`, a file that cannot be read or written, a usage error), 3 an
internal error: a bug, printed as one line (the traceback only with ``--debug``), 130 interrupted.

Command modules import their engines inside the command functions, never at module import, so that
``ecgdesk --help`` and the light commands answer at once (``bench/bench_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from ecgdesk.cli._common import close_command_stores
from ecgdesk.errors import EXIT_INTERNAL, EcgDeskError

# Each module defines ``register(subparsers)`` and sets ``func`` on the parsers it adds.
COMMAND_MODULES: tuple[str, ...] = (
    "ecgdesk.cli.records",
    "ecgdesk.cli.coding",
    "ecgdesk.cli.ecg12",
    "ecgdesk.cli.simulate",
    "ecgdesk.cli.strips",
    "ecgdesk.cli.study",
    "ecgdesk.cli.analyze",
    "ecgdesk.cli.interop",
    "ecgdesk.cli.monitor",
    "ecgdesk.cli.users",
    "ecgdesk.cli.serve",
    "ecgdesk.cli.delineate",
    "ecgdesk.cli.jobs",
    "ecgdesk.cli.claims",
)
#: The top-level words each command module registers: a typed command imports and builds only its own
#: module's parser (all fourteen took about 0.1 s of CPU on every call). A word not listed here builds every
#: module (a module added to COMMAND_MODULES without its words still works, only slower); a test checks
#: that the words match what the modules register.
COMMAND_WORDS: dict[str, str] = {
    **dict.fromkeys(("info", "convert"), "ecgdesk.cli.records"),
    **dict.fromkeys(("code", "scrub", "codes", "refdata"), "ecgdesk.cli.coding"),
    **dict.fromkeys(("ecg12", "stress"), "ecgdesk.cli.ecg12"),
    "simulate": "ecgdesk.cli.simulate",
    "strips": "ecgdesk.cli.strips",
    **dict.fromkeys(("study", "audit", "demo"), "ecgdesk.cli.study"),
    "analyze": "ecgdesk.cli.analyze",
    "interop": "ecgdesk.cli.interop",
    "monitor": "ecgdesk.cli.monitor",
    **dict.fromkeys(("user", "settings"), "ecgdesk.cli.users"),
    "serve": "ecgdesk.cli.serve",
    "delineate": "ecgdesk.cli.delineate",
    **dict.fromkeys(("jobs", "worker", "batch"), "ecgdesk.cli.jobs"),
    **dict.fromkeys(("billing", "claims", "remit", "denials", "ar"), "ecgdesk.cli.claims"),
}
DEBUG_ENV = "ECGDESK_DEBUG"


class _Version(argparse.Action):
    """``--version``, the package metadata read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        from ecgdesk import __version__

        print(f"ecgdesk {__version__}")
        parser.exit()


def _modules_for(words: Sequence[str] | None) -> tuple[str, ...]:
    """The command modules a command line needs: the typed command's own, none for ``--version`` alone,
    all of them otherwise (``--help``, no command, a word we do not know: argparse then lists them all)."""
    if words is None:
        return COMMAND_MODULES
    if list(words) == ["--version"]:
        return ()
    module = COMMAND_WORDS.get(words[0]) if words else None
    return (module,) if module in COMMAND_MODULES else COMMAND_MODULES


def build_parser(words: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``words`` (the command line) only what that line needs."""
    parser = argparse.ArgumentParser(
        prog="ecgdesk",
        description="ECG Desk: from the ECG recording to a physician-signed report and a clean claim.",
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--debug", action="store_true",
                        help=f"print the traceback of an internal error (also ${DEBUG_ENV}=1); may be given "
                             "anywhere on the line")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _modules_for(words):
        importlib.import_module(name).register(subparsers)
    return parser


def _command_words(args: argparse.Namespace) -> str:
    """``study list``, ``info`` ...: the command as typed, for the first word of an error line."""
    words = [str(args.command)]
    words += [str(v) for k, v in sorted(vars(args).items()) if k.endswith("_command") and isinstance(v, str)]
    return " ".join(words)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _safe_streams() -> None:
    """Never fail on printing a file name that is not valid UTF-8 (Linux allows any bytes in names)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a closed or detached stream: leave it so
                reconfigure(errors="backslashreplace")


def _os_error(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename is not None else ""
    return f"{where}{error.strerror or error}"


def _terminated(signum: int, _frame: object) -> None:
    """SIGTERM ends the command through the same cleanup as an error: temporary folders are removed."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _main(argv)
    finally:
        close_command_stores()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    _safe_streams()
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    words = [w for w in words if w != "--debug"]
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    command = _command_words(args)
    try:
        code = args.func(args)
    except EcgDeskError as error:
        _say(f"ecgdesk {command}: error: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (``ecgdesk ... | head``): not an error; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as error:  # a file the user named cannot be read or written (permissions, a full disk)
        if debug:
            traceback.print_exc()
        _say(f"ecgdesk {command}: error: {_os_error(error)}")
        return 2
    except MemoryError:
        _say(f"ecgdesk {command}: internal error: ran out of memory (the input is larger than this "
             "command handles); please report it with the command line")
        return EXIT_INTERNAL
    except Exception as error:  # a bug: one line, the traceback only when asked for
        if debug:
            traceback.print_exc()
        detail = " ".join(str(error).split())[:300]
        hint = "" if debug else "; run it again with --debug for the traceback"
        _say(f"ecgdesk {command}: internal error (a bug in ECG Desk, not in your input): "
             f"{type(error).__name__}: {detail}{hint}, and report it to the ECG Desk developers with the "
             "command line")
        return EXIT_INTERNAL
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
