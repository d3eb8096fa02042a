"""Code lookup: search our paraphrases, and show one code with its history, edits, limits and payment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ecgdesk.coding.codes import CodeInfo, code_table
from ecgdesk.coding.facts import Setting, parse_code
from ecgdesk.coding.refdata import RefData
from ecgdesk.coding.tables import MueRow, PtpRow, RvuRow, day_int, int_day
from ecgdesk.errors import InputError


def search(text: str) -> list[CodeInfo]:
    """Codes whose number, family or paraphrase contains every word of ``text`` (case-insensitive)."""
    words = text.lower().split()
    if not words:
        raise InputError("TEXT", "give at least one word to search for")
    found = []
    for info in code_table().values():
        components = " ".join(c.value for c in info.components)
        family = info.family.value.replace("_", " ")
        haystack = f"{info.code} {family} {info.part.value} {components} {info.paraphrase}".lower()
        if all(word in haystack for word in words):
            found.append(info)
    return found


@dataclass(frozen=True)
class Partner:
    """A PTP edit that involves the shown code, seen from that code."""

    setting: Setting
    role: str  # "column1" (the shown code bundles the partner) or "column2" (it is bundled)
    partner: str
    indicator: int
    rationale: str
    deletion: date | None


@dataclass(frozen=True)
class CodeReport:
    """Everything known about one code on one date."""

    code: str
    day: date
    info: CodeInfo | None
    valid: bool | None
    partners: list[Partner]
    mue: dict[Setting, MueRow]
    rvus: list[RvuRow]
    releases: dict[str, str]

    def to_dict(self) -> dict[str, object]:
        info = self.info
        return {
            "code": self.code,
            "date": self.day.isoformat(),
            "known": info is not None,
            "valid_on_date": self.valid,
            "paraphrase": info.paraphrase if info else None,
            "family": info.family.value if info else None,
            "part": info.part.value if info else None,
            "components": sorted(c.value for c in info.components) if info else [],
            "pctc_indicator": info.pctc if info else None,
            "per_30_days": info.per_30_days if info else None,
            "history": {
                "valid_from": info.valid_from.isoformat() if info and info.valid_from else None,
                "valid_to": info.valid_to.isoformat() if info and info.valid_to else None,
                "replaced_by": list(info.replaced_by) if info else [],
                "uncertain": info.uncertain if info else None,
            },
            "source": info.source if info else None,
            "ptp": [
                {
                    "setting": p.setting.value,
                    "role": p.role,
                    "partner": p.partner,
                    "indicator": p.indicator,
                    "rationale": p.rationale,
                }
                for p in self.partners
            ],
            "mue": {s.value: {"value": m.value, "mai": m.mai} for s, m in self.mue.items()},
            "rvu": [
                {
                    "modifier": r.modifier,
                    "status": r.status,
                    "pctc": r.pctc,
                    "work_rvu": r.work_rvu,
                    "total_nonfacility": r.total_nonfacility,
                    "total_facility": r.total_facility,
                    "facility_na": r.facility_na,
                    "conversion_factor": r.conversion_factor,
                    "payment_nonfacility": r.payment_nonfacility,
                    "payment_facility": r.payment_facility,
                }
                for r in self.rvus
            ],
            "releases": self.releases,
        }


def _partners(row: PtpRow, code: str) -> Partner:
    if row.column1 == code:
        return Partner(
            row.setting, "column1", row.column2, row.indicator, row.rationale, int_day(row.deletion)
        )
    return Partner(row.setting, "column2", row.column1, row.indicator, row.rationale, int_day(row.deletion))


def show(code: str, day: date, refdata: RefData) -> CodeReport:
    """Paraphrase, parts, history, PTP partners in force on ``day``, MUE per setting and RVUs of ``code``."""
    code = parse_code(code, "CODE")
    info = code_table().get(code)
    when = day_int(day)
    partners: list[Partner] = []
    mue: dict[Setting, MueRow] = {}
    releases: dict[str, str] = {}
    for setting in Setting:
        ptp = refdata.ptp(setting, day)
        releases[f"ptp/{setting.value}"] = ptp.release.id
        partners.extend(
            _partners(row, code)
            for row in ptp.partners(setting, code)
            if row.in_force(when) and row.indicator != 9
        )
        table = refdata.mue(setting, day)
        releases[f"mue/{setting.value}"] = table.release.id
        limit = table.limit(setting, code)
        if limit is not None:
            mue[setting] = limit
    rvu_table = refdata.rvu(Setting.PRACTITIONER, day)
    releases["rvu"] = rvu_table.release.id
    rvus = [row for row in (rvu_table.value(code, m) for m in ("", "26", "TC")) if row is not None]
    partners.sort(key=lambda p: (p.setting.value, p.role, p.partner))
    return CodeReport(code, day, info, info.valid_on(day) if info else None, partners, mue, rvus, releases)
