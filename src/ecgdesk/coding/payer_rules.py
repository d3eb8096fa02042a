"""Payer rules as versioned data: what differs between Medicare MACs, commercial payers and Medicaid.

``data/payer_rules.json`` holds rule sets, each with its id, kind, dates in force and sources: timely
filing, appeal window and name, how a correction is made (frequency 7 replacement or a reopening),
patient statement timing, the ABN modifiers the payer knows, the date-of-service convention for global,
professional and technical parts of multi-day recordings (Holter, patch: lines with a span; a monitoring
period's lines are already dated part by part by the coding engine, shared/reference/monitoring.md section
5 rule 4, and that date wins), frequency limits and codes needing prior
authorization. :func:`payer_findings` applies them to a claim; the claim writer and the denial queue read
the same rule set, and every finding cites the rule set id and its source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from ecgdesk.coding.codes import Part, code_info, separate_sets
from ecgdesk.coding.facts import Claim
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.errors import InputError

DOS_CHOICES = ("start", "end", "interpretation", "period")
CORRECTIONS = ("frequency_7", "reopening")


@dataclass(frozen=True)
class FrequencyLimit:
    codes: frozenset[str]
    units: int
    per_days: int
    source: str


@dataclass(frozen=True)
class PayerRules:
    """One rule set (see the module doc)."""

    id: str
    title: str
    kind: str
    effective_from: date
    effective_to: date | None
    source: str
    timely_filing_days: int
    appeal_days: int
    appeal_name: str
    corrected_claim: str
    reopening_days: int
    patient_statement_days: int
    abn_modifiers: frozenset[str]
    date_of_service: Mapping[str, str]
    frequency_limits: tuple[FrequencyLimit, ...]
    prior_authorization: frozenset[str]
    version: str

    @property
    def citation(self) -> str:
        return f"payer rules {self.id} (version {self.version}, in force from {self.effective_from})"

    def dos_convention(self, code: str) -> str:
        """``start``, ``end``, ``interpretation`` or ``period`` for the line date of ``code``."""
        info = code_info(code)
        part = info.part.value if info is not None else Part.GLOBAL.value
        return self.date_of_service.get(part, "start")

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "timely_filing_days": self.timely_filing_days,
            "appeal_days": self.appeal_days,
            "appeal_name": self.appeal_name,
            "corrected_claim": self.corrected_claim,
            "date_of_service": dict(self.date_of_service),
            "abn_modifiers": sorted(self.abn_modifiers),
            "prior_authorization": sorted(self.prior_authorization),
            "source": self.source,
        }


def _rule_set(data: Mapping[str, Any], version: str) -> PayerRules:
    where = f"payer_rules.json rule set {data.get('id', '?')}"
    try:
        dos = dict(data["date_of_service"])
        if any(v not in DOS_CHOICES for v in dos.values()) or data["corrected_claim"] not in CORRECTIONS:
            raise ValueError("date_of_service or corrected_claim value not allowed")
        return PayerRules(
            id=str(data["id"]),
            title=str(data["title"]),
            kind=str(data["kind"]),
            effective_from=date.fromisoformat(data["effective_from"]),
            effective_to=date.fromisoformat(data["effective_to"]) if data.get("effective_to") else None,
            source=str(data["source"]),
            timely_filing_days=int(data["timely_filing_days"]),
            appeal_days=int(data["appeal_days"]),
            appeal_name=str(data["appeal_name"]),
            corrected_claim=str(data["corrected_claim"]),
            reopening_days=int(data["reopening_days"]),
            patient_statement_days=int(data["patient_statement_days"]),
            abn_modifiers=frozenset(data["abn_modifiers"]),
            date_of_service=dos,
            frequency_limits=tuple(
                FrequencyLimit(frozenset(x["codes"]), int(x["units"]), int(x["per_days"]), str(x["source"]))
                for x in data["frequency_limits"]
            ),
            prior_authorization=frozenset(data["prior_authorization"]),
            version=version,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError("payer rules", f"malformed rule set ({error})", where) from None


@cache
def rule_sets() -> tuple[PayerRules, ...]:
    """Every shipped rule set."""
    text = resources.files("ecgdesk.coding.data").joinpath("payer_rules.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return tuple(_rule_set(entry, str(data["version"])) for entry in data["rule_sets"])


def payer_rules(rule_id: str, day: date | None = None) -> PayerRules:
    """The rule set ``rule_id`` (in force on ``day`` when given)."""
    known = [r for r in rule_sets() if r.id == rule_id]
    if not known:
        names = ", ".join(sorted({r.id for r in rule_sets()}))
        raise InputError("rules", f"unknown payer rule set {rule_id!r}; known: {names}")
    if day is not None:
        current = [r for r in known if r.in_force(day)]
        if current:
            return max(current, key=lambda r: r.effective_from)
    return max(known, key=lambda r: r.effective_from)


def _timely(claim: Claim, rules: PayerRules, today: date) -> Iterator[Finding]:
    for index, line in enumerate(claim.lines):
        deadline = line.date_of_service + timedelta(days=rules.timely_filing_days)
        if today > deadline:
            yield Finding(
                "timely_filing",
                Severity.ERROR,
                index,
                line.code,
                "29",
                f"The filing limit of {rules.timely_filing_days} days from the date of service "
                f"{line.date_of_service} ended on {deadline} ({rules.citation}).",
                "Not billable to this payer; write the line off.",
            )


def _authorization(claim: Claim, rules: PayerRules, authorization: str | None) -> Iterator[Finding]:
    for index, line in enumerate(claim.lines):
        if line.code in rules.prior_authorization and not authorization:
            yield Finding(
                "prior_authorization",
                Severity.ERROR,
                index,
                line.code,
                "197",
                f"{rules.title} requires prior authorization for {line.code} ({rules.citation}).",
                "Obtain the authorization number and enter it on the claim (REF*G1).",
            )


def _abn(claim: Claim, rules: PayerRules) -> Iterator[Finding]:
    for index, line in enumerate(claim.lines):
        used = [m for m in line.modifiers if m in {"GA", "GZ", "GX", "GY"} and m not in rules.abn_modifiers]
        if used:
            yield Finding(
                "abn_modifier",
                Severity.WARNING,
                index,
                line.code,
                "4",
                f"Modifier {', '.join(used)} is a Medicare ABN modifier; {rules.title} does not use it "
                f"({rules.citation}).",
                "Remove the modifier unless this payer's manual asks for it.",
            )


def _another_set(code: str, other: str) -> bool:
    """Whether an earlier line of ``other`` is a set of its own, not another part of the set of ``code``.

    Monitoring is billed in sets whose parts may carry different dates (hook-up on the first day, the
    reading on the day of review: this rule set's own date-of-service convention) and providers; a limit
    of one per period counts sets, so the earlier hook-up of the same monitor is not a repeat.
    """
    this, that = code_info(code), code_info(other)
    return this is None or that is None or separate_sets(this, that)


def _frequency(claim: Claim, rules: PayerRules, history: Sequence[Claim]) -> Iterator[Finding]:
    for index, line in enumerate(claim.lines):
        for limit in rules.frequency_limits:
            if line.code not in limit.codes:
                continue
            used = sum(
                other.units
                for earlier in history
                for other in earlier.lines
                if other.code in limit.codes
                # sets count by the day they completed (a period's end, whatever day each part is dated on),
                # as the scrubber's monitoring_period rule does (monitoring.md section 5 rule 1)
                and abs((other.completed_on - line.completed_on).days) < limit.per_days
                and _another_set(line.code, other.code)
            )
            if used + line.units > limit.units:
                yield Finding(
                    "frequency_limit",
                    Severity.WARNING,
                    index,
                    line.code,
                    "119",
                    f"{used} earlier unit(s) of this group within {limit.per_days} days; the limit is "
                    f"{limit.units} ({limit.source}; {rules.citation}).",
                    "Bill only with documentation of a new indication, or expect a CO-119 denial.",
                )


def payer_findings(
    claim: Claim,
    rules: PayerRules,
    today: date,
    history: Sequence[Claim] = (),
    authorization: str | None = None,
) -> list[Finding]:
    """Timely filing, prior authorization, ABN modifiers and frequency limits of ``rules`` on ``claim``."""
    return [
        *_timely(claim, rules, today),
        *_authorization(claim, rules, authorization),
        *_abn(claim, rules),
        *_frequency(claim, rules, history),
    ]
