"""What the coding engine returns: claim lines it selected and findings it raised."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    """How bad a finding is: an error would be denied, a warning may be, info is advice."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    """One problem or remark about a claim (or a coding decision).

    ``line`` is the 0-based index of the claim line it concerns (``None`` for the whole claim), ``carc``
    the claim adjustment reason code a payer would use, ``fix`` what to bill or do instead.
    """

    rule: str
    severity: Severity
    line: int | None
    code: str | None
    carc: str | None
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "line": self.line,
            "code": self.code,
            "carc": self.carc,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class ClaimLineOut:
    """A claim line chosen by :func:`~ecgdesk.coding.selection.select_codes`."""

    code: str
    modifiers: tuple[str, ...] = ()
    units: int = 1

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "modifiers": list(self.modifiers), "units": self.units}


@dataclass(frozen=True)
class CodingResult:
    """Lines to bill, a sentence for every choice, and findings (warnings where payers differ)."""

    lines: list[ClaimLineOut] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "lines": [line.to_dict() for line in self.lines],
            "explanations": list(self.explanations),
            "findings": [finding.to_dict() for finding in self.findings],
        }
