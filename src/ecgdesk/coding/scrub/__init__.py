"""Claim scrubber: rules that find what a payer would deny, with the CARC and the fix."""

from __future__ import annotations

from collections.abc import Sequence

from ecgdesk.coding.facts import Claim
from ecgdesk.coding.results import Finding


def scrub(claim: Claim, history: Sequence[Claim] = ()) -> list[Finding]:
    """Check ``claim`` (with the patient's earlier claims ``history``) and return the findings."""
    raise NotImplementedError("scrub is being built (issue 5)")
