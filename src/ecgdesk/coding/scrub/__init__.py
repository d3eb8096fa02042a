"""Claim scrubber: rules that find what a payer would deny, with the CARC and the fix.

Rules are small functions in a ``{name: function}`` registry (:data:`RULES`), grouped by topic:
line rules (``coderules``), NCCI edits (``ncci``), monitoring periods (``period``), medical necessity
(``necessity``) and documentation (``documentation``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ecgdesk.coding.facts import Claim
from ecgdesk.coding.refdata import RefData, default_refdata_dir
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub import coderules, documentation, ncci, necessity, period
from ecgdesk.coding.scrub.context import ScrubContext
from ecgdesk.coding.tables import TableKind, baseline
from ecgdesk.errors import check_option

Rule = Callable[[ScrubContext], Iterable[Finding]]

RULES: dict[str, Rule] = {
    **coderules.RULES,
    **ncci.RULES,
    **period.RULES,
    **necessity.RULES,
    **documentation.RULES,
}

_DEFAULT: dict[str, RefData] = {}


def default_refdata() -> RefData:
    """The reference data of ``$ECGDESK_REFDATA_DIR``, re-read when a release is added or replaced."""
    root = default_refdata_dir()
    stamps = []
    for kind in TableKind:
        try:
            stamps.append((root / kind.value).stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    key = f"{root}|{stamps}"
    if key not in _DEFAULT:
        _DEFAULT.clear()
        _DEFAULT[key] = RefData.from_env()
    return _DEFAULT[key]


def scrub(
    claim: Claim,
    history: Sequence[Claim] = (),
    refdata: RefData | None = None,
    rules: Iterable[str] | None = None,
) -> list[Finding]:
    """Check ``claim`` (with the patient's earlier claims ``history``) and return the findings.

    ``refdata`` chooses the reference tables (default: the imported releases, else the built-in
    baseline); ``rules`` limits the run to some rule names of :data:`RULES`.
    """
    context = ScrubContext(claim, history, refdata if refdata is not None else default_refdata())
    chosen = RULES if rules is None else {name: RULES[check_option("rules", name, RULES)] for name in rules}
    findings: list[Finding] = []
    for rule in chosen.values():
        findings.extend(rule(context))
    kinds = sorted({kind for kind, _ in context.fallbacks})
    for kind in kinds:
        days = sorted(day.isoformat() for k, day in context.fallbacks if k is kind)
        findings.append(
            Finding(
                "refdata_fallback",
                Severity.INFO,
                None,
                None,
                None,
                f"No imported {kind.value.upper()} release is in force on {', '.join(days)}: the built-in "
                f"baseline {baseline(kind).release.id} shipped with ecgdesk was used.",
                "Import the CMS quarterly files with 'ecgdesk refdata import'.",
            )
        )
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: (f.line if f.line is not None else -1, order[f.severity]))
    return findings
