"""The current report version of a study as it is read: its PDF, and whether its signature still holds.

Reading only (no report engine is imported): the study pages, the API and the result feed ask these
without rendering anything; writing versions and signatures is :mod:`ecgdesk.workflow.reporting`, which
asks :func:`in_use` before it replaces or removes a version's folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ecgdesk.errors import ConflictError, NotFoundError
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


class FolderTakenError(ConflictError):
    """The version's folder holds the files of a stored version: another process rendered it meanwhile
    (it took the study's lock over from this one, stalled past ``locks.STALE_AFTER_S``)."""


def in_use(store: Store, folder: Path, session: Session | None = None) -> bool:
    """Whether a stored report version's files are in ``folder`` (a signed copy's too: ``v2/signed``);
    read in ``session`` when the caller holds one open (on SQLite a second would wait for its lock)."""
    query = select(ReportVersion.id).where(
        ReportVersion.pdf_path.startswith(f"{store.relative(folder)}/", autoescape=True)).limit(1)
    if session is not None:
        return session.scalar(query) is not None
    with store.transaction() as own:
        return own.scalar(query) is not None


def discard(store: Store, folder: Path) -> None:
    """Remove the folder of a step that failed, unless a stored version uses it (one stored by a process
    that took the study over from this one: removing it would leave that version without its PDF)."""
    try:
        if in_use(store, folder):
            return
    except SQLAlchemyError:  # the database is away: keep the folder (unreferenced, it is only space)
        return
    shutil.rmtree(folder, ignore_errors=True)
