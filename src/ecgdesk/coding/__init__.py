"""Coding: CPT/HCPCS reference tables with provenance and dates, code selection, claim scrubbing.

Public API::

    from ecgdesk.coding import facts_from_dict, select_codes, claim_from_dict, scrub

The names are imported on first use (PEP 562), so importing one submodule (``ecgdesk.coding.facts``)
does not load the tables and the scrubber.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecgdesk.coding.facts import (
        Claim,
        ClaimLine,
        Component,
        Repeat,
        Service,
        ServiceFacts,
        Setting,
        claim_from_dict,
        facts_from_dict,
        history_from_list,
    )
    from ecgdesk.coding.results import ClaimLineOut, CodingResult, Finding, Severity
    from ecgdesk.coding.scrub import scrub
    from ecgdesk.coding.selection import claim_for, select_codes

_HOME = {
    **dict.fromkeys(("Claim", "ClaimLine", "Component", "Repeat", "Service", "ServiceFacts", "Setting",
                     "claim_from_dict", "facts_from_dict", "history_from_list"), "ecgdesk.coding.facts"),
    **dict.fromkeys(("ClaimLineOut", "CodingResult", "Finding", "Severity"), "ecgdesk.coding.results"),
    "scrub": "ecgdesk.coding.scrub",
    **dict.fromkeys(("claim_for", "select_codes"), "ecgdesk.coding.selection"),
}

__all__ = [
    "Claim",
    "ClaimLine",
    "ClaimLineOut",
    "CodingResult",
    "Component",
    "Finding",
    "Repeat",
    "Service",
    "ServiceFacts",
    "Setting",
    "Severity",
    "claim_for",
    "claim_from_dict",
    "facts_from_dict",
    "history_from_list",
    "scrub",
    "select_codes",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'ecgdesk.coding' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Keeps a public name that is also a submodule (``scrub``) bound to the function, as an eager
    ``from ecgdesk.coding.scrub import scrub`` here would: the import system binds the submodule too."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _HOME and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
