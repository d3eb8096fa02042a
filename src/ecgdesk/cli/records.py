"""Recording commands: ``info``, ``simulate``, ``convert``."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the recording commands (filled in by the records work)."""
