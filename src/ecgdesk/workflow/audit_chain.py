"""The audit chain check (``ecgdesk audit verify``, ``GET /api/v1/audit/verify``).

Apart from :mod:`ecgdesk.workflow.views` so that the command loads no Pydantic model: it answers in well
under a second. The HTTP route wraps the same result in its response model.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecgdesk.store import Store
from ecgdesk.store.audit import verify
from ecgdesk.workflow.permissions import audit_read


@dataclass(frozen=True)
class AuditVerification:
    """The chain's state: rows checked, the head hash, and the first bad row if any."""

    ok: bool
    rows: int
    head_hash: str
    problem: str | None
    problem_seq: int | None


def check_audit_chain(store: Store, actor: str) -> AuditVerification:
    """Walk the whole chain; the walk itself is an audited read."""
    with store.transaction() as session:
        report = verify(session)
        audit_read(session, actor, "audit-verify", "audit", "*", {"ok": report.ok, "rows": report.rows})
    problem = report.problem
    return AuditVerification(ok=report.ok, rows=report.rows, head_hash=report.head_hash,
                             problem=str(problem) if problem else None,
                             problem_seq=problem.seq if problem else None)
