"""Matching 835 service lines to the lines we billed.

In order (claims-lifecycle.md section 2): the line control number we sent in REF*6R and the payer echoes;
then SVC06, the code as we submitted it when the payer restated SVC01; then code + modifiers + date of
service + charge. Payers drop modifiers from SVC01, so a remitted line without modifiers may still match
a billed line with them on code, date and charge. A reversal (negative amounts) matches on the absolute
charge.

A payer may pay one billed line as several SVC loops (005010X221A1 section 1.10.2.14, RFI 2283): split,
each loop carries part of the charge and units (REF*6R echoed, SVC06 when the code changed); unbundled,
the first loop carries the billed charge and the others $0.00, each naming the billed code in SVC06.
So a remitted line no billed line was left for goes to the billed line with its REF*6R, else (without
one) the line with its SVC06 code, else (without SVC06) with its own code (same date, modifiers as
above), as long as the charges of the loops given to that line do not pass its billed charge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ecgdesk.claims.remit import RemitLine


@dataclass(frozen=True)
class BilledLine:
    """What we billed on one line (``key`` is the caller's id for it)."""

    key: int
    control: str
    code: str
    modifiers: tuple[str, ...]
    date_from: date
    charge: Decimal


@dataclass(frozen=True)
class LineMatch:
    remit: RemitLine
    billed: BilledLine | None
    how: str  # "control", "submitted_code", "code_date_charge", "split", "" (unmatched)


def _same_day(remit: RemitLine, billed: BilledLine) -> bool:
    return remit.date_from is None or remit.date_from == billed.date_from


def match_lines(remitted: Sequence[RemitLine], billed: Sequence[BilledLine]) -> list[LineMatch]:
    """One :class:`LineMatch` per remitted line, in the order of ``remitted``."""
    free = list(billed)
    by_control = {b.control: b for b in billed}
    found: dict[int, tuple[BilledLine, str]] = {}

    def take(index: int, line: BilledLine, how: str) -> None:
        found[index] = (line, how)
        free.remove(line)

    for index, remit in enumerate(remitted):
        candidate = by_control.get(remit.control or "")
        if candidate is not None and candidate in free:
            take(index, candidate, "control")
    rules: list[tuple[str, Callable[[RemitLine, BilledLine], bool]]] = [
        (
            "submitted_code",
            lambda r, b: (
                r.submitted_code == b.code
                and (not r.submitted_modifiers or r.submitted_modifiers == b.modifiers)
                and _same_day(r, b)
                and abs(r.charge) == b.charge
            ),
        ),
        (
            "code_date_charge",
            lambda r, b: (
                r.code == b.code
                and (r.modifiers == b.modifiers or not r.modifiers)
                and _same_day(r, b)
                and abs(r.charge) == b.charge
            ),
        ),
    ]
    for how, test in rules:
        for index, remit in enumerate(remitted):
            if index in found:
                continue
            exact = [b for b in free if test(remit, b) and b.modifiers == remit.modifiers]
            loose = exact or [b for b in free if test(remit, b)]
            if loose:
                take(index, loose[0], how)
    _split_loops(remitted, billed, found)
    return [
        LineMatch(remit, found[i][0], found[i][1]) if i in found else LineMatch(remit, None, "")
        for i, remit in enumerate(remitted)
    ]


def _split_loops(
    remitted: Sequence[RemitLine], billed: Sequence[BilledLine], found: dict[int, tuple[BilledLine, str]]
) -> None:
    """Give the loops still unmatched to the billed line the payer split or unbundled (module doc)."""
    given: dict[int, Decimal] = {}
    for index, (line, _) in found.items():
        given[line.key] = given.get(line.key, Decimal(0)) + abs(remitted[index].charge)

    def same_service(r: RemitLine, b: BilledLine, code: str | None, modifiers: tuple[str, ...]) -> bool:
        return code == b.code and (not modifiers or modifiers == b.modifiers) and _same_day(r, b)

    controls = {b.control for b in billed}
    for index, remit in enumerate(remitted):
        if index in found:
            continue
        # the most specific key the loop carries decides: a loop echoing line 1's REF*6R is never line 2's
        if remit.control in controls:
            candidates = [b for b in billed if b.control == remit.control]
        elif remit.submitted_code:
            key = (remit.submitted_code, remit.submitted_modifiers)
            candidates = [b for b in billed if same_service(remit, b, *key)]
        else:
            candidates = [b for b in billed if same_service(remit, b, remit.code, remit.modifiers)]
        charge = abs(remit.charge)
        room = [b for b in candidates if given.get(b.key, Decimal(0)) + charge <= b.charge]
        if room:
            found[index] = (room[0], "split")
            given[room[0].key] = given.get(room[0].key, Decimal(0)) + charge
