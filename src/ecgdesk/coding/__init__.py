"""Coding: CPT/HCPCS reference tables with provenance and dates, code selection, claim scrubbing.

Public API::

    from ecgdesk.coding import facts_from_dict, select_codes, claim_from_dict, scrub
"""

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
