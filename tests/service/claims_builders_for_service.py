"""One professional claim for the service tests' simulated remittances (no database involved)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ecgdesk.claims import (
    Address,
    BillingProvider,
    PayerInfo,
    Person,
    ProfessionalClaim,
    Relationship,
    ServiceLine,
)


def claims_for_service() -> list[ProfessionalClaim]:
    address = Address("100 MAIN ST", "SPRINGFIELD", "IL", "627011234")
    billing = BillingProvider("HEART DIAGNOSTICS IDTF", "1234567893", "123456789", "261QD0000X", address)
    person = Person("DOE", "JANE", date(1950, 1, 2), "F", Address("5 ELM ST", "SPRINGFIELD", "IL", "62702"))
    line = ServiceLine("SVC0000001L1", "93000", Decimal("28.62"), 1, date(2026, 11, 2))
    return [
        ProfessionalClaim(
            "SVC0000001",
            billing,
            PayerInfo("MEDICARE", "12345", "MB"),
            "1EG4",
            person,
            Relationship.SELF,
            ("R00.2",),
            (line,),
            "11",
        )
    ]
