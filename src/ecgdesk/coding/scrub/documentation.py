"""Documentation rules: signed interpretation, recorded hours, a valid ordering NPI."""

from __future__ import annotations

from collections.abc import Iterator

from ecgdesk.coding.codes import DURATION_FAMILIES, Family
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub.coderules import professional_part
from ecgdesk.coding.scrub.context import ScrubContext
from ecgdesk.errors import is_digits

NPI_PREFIX = "80840"
NOT_ORDERED = frozenset({Family.RELATED, Family.UNLISTED, Family.IPPE_ECG})


def npi_valid(npi: str) -> bool:
    """A 10-digit NPI whose last digit is the Luhn check digit of ``80840`` + its first 9 digits."""
    if len(npi) != 10 or not is_digits(npi):
        return False
    digits = [int(d) for d in NPI_PREFIX + npi]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def signed_interpretation(ctx: ScrubContext) -> Iterator[Finding]:
    if ctx.claim.interpretation_signed is not False:
        return
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        if professional_part(info, line.modifiers):
            yield Finding(
                "signed_interpretation",
                Severity.ERROR,
                i,
                line.code,
                "16",
                f"{line.code} bills a physician's interpretation, but the claim says the report is not "
                "signed.",
                "Have the physician sign the interpretation before billing.",
            )


def recorded_hours(ctx: ScrubContext) -> Iterator[Finding]:
    for i, (line, info) in enumerate(zip(ctx.claim.lines, ctx.infos, strict=True)):
        if info is not None and info.family in DURATION_FAMILIES and ctx.hours(line) is None:
            yield Finding(
                "recorded_hours",
                Severity.ERROR,
                i,
                line.code,
                "16",
                f"{line.code} is chosen by recorded hours, but the claim does not give them.",
                "Give recorded_hours (claim or line) from the analysis report.",
            )


def ordering_npi(ctx: ScrubContext) -> Iterator[Finding]:
    diagnostic = [
        i for i, info in enumerate(ctx.infos) if info is not None and info.family not in NOT_ORDERED
    ]
    if not diagnostic:
        return
    npi = ctx.claim.ordering_provider_npi
    if not npi:
        yield Finding(
            "ordering_npi",
            Severity.ERROR,
            diagnostic[0],
            ctx.claim.lines[diagnostic[0]].code,
            "16",
            "A diagnostic test needs the ordering/referring provider's NPI.",
            "Add ordering_provider_npi (10 digits).",
        )
    elif not npi_valid(npi):
        yield Finding(
            "ordering_npi",
            Severity.ERROR,
            diagnostic[0],
            ctx.claim.lines[diagnostic[0]].code,
            "16",
            f"The ordering NPI {npi!r} is not valid (10 digits with a Luhn check digit over 80840).",
            "Correct the ordering provider's NPI.",
        )


RULES = {
    "signed_interpretation": signed_interpretation,
    "recorded_hours": recorded_hours,
    "ordering_npi": ordering_npi,
}
