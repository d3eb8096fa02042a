"""Code selection: from :class:`ServiceFacts` to claim lines, each choice explained."""

from __future__ import annotations

from ecgdesk.coding.facts import ServiceFacts
from ecgdesk.coding.results import CodingResult


def select_codes(facts: ServiceFacts) -> CodingResult:
    """Choose the CPT/HCPCS lines (code, modifiers, units) for the furnished service."""
    raise NotImplementedError("select_codes is being built (issue 5)")
