"""The enumerated values stored as short strings in the database."""

from __future__ import annotations

import enum


class StudyStatus(enum.StrEnum):
    """Where a study is in its life; the allowed moves are in :mod:`ecgdesk.workflow.lifecycle`."""

    ORDERED = "ordered"
    RECORDED = "recorded"
    ANALYZED = "analyzed"
    REPORTED = "reported"
    SIGNED = "signed"
    CODED = "coded"
    BILLED = "billed"


class OrderState(enum.StrEnum):
    """Whether the ordering system still wants a study's order worked (from ``orders.cancelled_at`` and
    ``held_at``): a cancelled order (HL7 v2 ORC-1 CA, FHIR ServiceRequest revoked or entered-in-error) and one
    on hold (HD, on-hold; until released: RL, active) take no recording."""

    ACTIVE = "active"
    ON_HOLD = "on-hold"
    CANCELLED = "cancelled"


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    PHYSICIAN = "physician"
    BILLER = "biller"
    ADMIN = "admin"


class EditKind(enum.StrEnum):
    BEAT = "beat"
    TEMPLATE = "template"
