"""The worklist query: one page of studies, and every study (``ecgdesk study list``), as plain rows.

Kept apart from :mod:`ecgdesk.workflow.views` so that listing studies loads no Pydantic schema (issue 19,
item 9: ``study list`` answers in under 0.8 s); the HTTP worklist wraps the same rows in its schema
(``views.study_page``), so both faces read the studies, and audit the read, the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from ecgdesk.interop.model import OrderPriority
from ecgdesk.store import Store
from ecgdesk.store.enums import OrderState, StudyStatus
from ecgdesk.store.models import Order, Patient, Study
from ecgdesk.workflow.lifecycle import order_state
from ecgdesk.workflow.paging import MAX_PAGE
from ecgdesk.workflow.permissions import audit_read


def _stamp(moment: datetime) -> str:
    """ISO 8601 in UTC as the HTTP schema writes it (``Z``); SQLite hands times back without their zone."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    text = aware.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True)
class StudyEntry:
    """One study of the worklist."""

    id: int
    status: StudyStatus
    patient_id: str
    patient_name: str
    service: str
    created_at: datetime
    updated_at: datetime
    priority: OrderPriority = OrderPriority.ROUTINE
    #: a cancelled or held order's study stays listed (with its state), so nobody wonders where it went
    order_state: OrderState = OrderState.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, the same as the HTTP worklist's rows."""
        return {"id": self.id, "status": self.status.value, "patient_id": self.patient_id,
                "patient_name": self.patient_name, "service": self.service,
                "priority": self.priority.value, "order_state": self.order_state.value,
                "created_at": _stamp(self.created_at),
                "updated_at": _stamp(self.updated_at)}


def study_entries(store: Store, actor: str | None = None, status: StudyStatus | None = None,
                  offset: int = 0, limit: int = 50) -> tuple[list[StudyEntry], int]:
    """One page of the worklist (newest first, at most ``MAX_PAGE``), optionally of one status, and the
    number of studies in all; the read is audited when ``actor`` is given."""
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(Study, Patient.external_id, Patient.name, Order.service, Order.priority, Order.cancelled_at,
               Order.held_at)
        .join(Patient, Study.patient_id == Patient.id)
        .join(Order, Study.order_id == Order.id)
    )
    counted = select(func.count()).select_from(Study)
    if status is not None:
        query = query.where(Study.status == status.value)
        counted = counted.where(Study.status == status.value)
    with store.transaction() as session:
        total = int(session.scalar(counted) or 0)
        rows = session.execute(query.order_by(Study.id.desc()).offset(max(0, offset)).limit(limit)).all()
        items = [StudyEntry(s.id, StudyStatus(s.status), pid, name, service, s.created_at, s.updated_at,
                            OrderPriority(priority), order_state(cancelled, held))
                 for s, pid, name, service, priority, cancelled, held in rows]
        if actor is not None:
            detail = {"status": status.value if status else None, "offset": offset,
                      "ids": [r.id for r in items]}
            audit_read(session, actor, "worklist", "study", "*", detail)
    return items, total


def list_studies(store: Store, actor: str | None = None) -> list[StudyEntry]:
    """Every study, oldest first (``ecgdesk study list``)."""
    _, total = study_entries(store, None, None, 0, 1)
    entries: list[StudyEntry] = []
    for offset in range(0, total, MAX_PAGE):
        entries.extend(study_entries(store, actor, None, offset, MAX_PAGE)[0])
    return sorted(entries, key=lambda row: row.id)
