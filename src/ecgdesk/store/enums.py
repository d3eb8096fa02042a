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


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    PHYSICIAN = "physician"
    BILLER = "biller"
    ADMIN = "admin"


class EditKind(enum.StrEnum):
    BEAT = "beat"
    TEMPLATE = "template"
