"""``ecgdesk`` entry point: builds the parser from each command module and maps errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ecgdesk import __version__
from ecgdesk.errors import EcgDeskError

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
    "ecgdesk.cli.users",
    "ecgdesk.cli.serve",
    "ecgdesk.cli.delineate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecgdesk",
        description="ECG Desk: from the ECG recording to a physician-signed report and a clean claim.",
    )
    parser.add_argument("--version", action="version", version=f"ecgdesk {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except EcgDeskError as error:
        print(f"ecgdesk {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``ecgdesk ... | head``): not an error; keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
