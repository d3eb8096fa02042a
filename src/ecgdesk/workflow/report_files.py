"""The current report version of a study as it is read: its PDF, and whether its signature still holds.

Reading only (no report engine is imported): the study pages, the API and the result feed ask these
without rendering anything; writing versions and signatures is :mod:`ecgdesk.workflow.reporting`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import NotFoundError
from ecgdesk.store import Store, file_sha256
from ecgdesk.store.models import ReportVersion, Signature
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.studies import get_study


def latest_version(session: Session, study_id: int) -> ReportVersion | None:
    """The study's newest report version (None before its first report)."""
    return session.scalar(
        select(ReportVersion).where(ReportVersion.study_id == study_id).order_by(ReportVersion.version.desc())
    )


@dataclass(frozen=True)
class ReportFile:
    version: int
    pdf_path: Path
    signed: bool


def report_file(store: Store, study_id: int, actor: str) -> ReportFile:
    """The current report version's PDF (signed once signed), its read audited; nothing is rendered."""
    with store.transaction() as session:
        get_study(session, study_id)
        latest = latest_version(session, study_id)
        if latest is None:
            raise NotFoundError("report", "the study has no report yet", source=f"study {study_id}")
        pdf = store.resolve(latest.pdf_path)
        if not pdf.exists():
            raise NotFoundError("report", f"the PDF of version {latest.version} is missing on disk")
        signed = session.scalar(select(Signature.id).where(Signature.report_version_id == latest.id))
        audit_read(session, actor, "report", "study", study_id, {"version": latest.version})
        return ReportFile(latest.version, pdf, signed is not None)


def signature_state(store: Store, study_id: int) -> str:
    """``unsigned``, ``valid`` (the latest version is signed and its PDF unchanged) or why it is not."""
    with store.transaction() as session:
        latest = latest_version(session, study_id)
        if latest is None:
            return "unsigned"
        sig = session.scalar(select(Signature).where(Signature.report_version_id == latest.id))
        if sig is None:
            signed_before = session.scalar(select(Signature).where(Signature.study_id == study_id))
            return "report changed since signing: needs a new signature" if signed_before else "unsigned"
        if sig.content_sha256 != latest.content_sha256:
            return "signature does not cover this content"
        pdf = store.resolve(latest.pdf_path)
        if not pdf.exists() or file_sha256(pdf) != latest.pdf_sha256:
            return "signed PDF changed or missing on disk"
        return "valid"
