"""Small helpers shared by command modules: JSON printing and progress bars."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def progress(total: float, desc: str, unit: str = "s") -> tqdm:
    """A progress bar on stderr; silent when stderr is not a terminal (CI logs, pipes)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty(),
                dynamic_ncols=True)
