"""Batch signing: a physician signs several reviewed reports with one entry of the password.

Radiology reporting systems let a reader sign a batch of finished reports at once (review-ui.md, "Signing");
here the batch is only a loop over the single signature, so nothing about a signature changes:

* **Ready to sign** (:func:`signing_queue`) is what the single sign would accept, seen from the physician's
  own worklist: the study is ``reported``; its latest report version was reviewed by this physician (on the
  report page, "Save and review", or ``study interpret``), so it is theirs; the study has an interpretation
  (a batch signs what the physician wrote, never a report reviewed without one); and the report's inputs
  are unchanged since that review. The queue lists the physician's reviewed studies with ``ready`` and,
  when not, the reason.
* **Changed after sending:** when the report was rendered again after this physician's review (a
  technician's beat edit or a re-analysis of the sent study renders it at once,
  :mod:`ecgdesk.workflow.beat_edits`), the newest version is nobody's review yet. The study stays on the
  queue of the physician who reviewed the version before it (the worklist badge alone was easy to miss),
  ``changed_after_sending`` as on the worklist, never ready: the reason names the new version and the one
  they reviewed, and neither the batch nor the single sign signs the old review. Their "Save and review"
  of the new version makes it ready again.
* **One password entry** (:func:`sign_batch`) is checked once, before anything is signed: a wrong password
  signs nothing and counts as one failed attempt. 21 CFR 11.200(a)(1)(i): the first signing of a continuous
  session uses every component (the session's user ID and the password re-entered here); the batch is one
  signing act over the studies the physician ticked, each listed with its patient beside the meaning.
* **Each study is signed by** :func:`ecgdesk.workflow.reporting.sign_as`, the function behind the single
  sign: the same checks (status, reviewer, content and PDF unchanged), its own transaction, its own
  ``report:sign`` audit row, its own signed PDF with printed name, date-time and meaning (11.50), its own
  results queued.
* **Not all-or-nothing:** a study that fails a check is listed with the reason and left unsigned, and the
  others are signed. Each signature covers one study's record (11.70), so one study whose report changed
  since the review must not hold back the others; the physician sees which were signed and why the rest
  were not, and those stay on the worklist. One ``report:sign-batch`` audit row records the act: the
  studies asked for, signed and refused with their reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, InputError, NotFoundError
from ecgdesk.interop.model import OrderPriority
from ecgdesk.store import Store, append
from ecgdesk.store.enums import Role, StudyStatus
from ecgdesk.store.models import Interpretation, Order, Patient, ReportVersion, Study
from ecgdesk.workflow.paging import MAX_PAGE, Rows
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.report_inputs import report_inputs_sha256
from ecgdesk.workflow.reporting import MEANING, SignatureInfo, sign_as
from ecgdesk.workflow.review import changed_after_sending
from ecgdesk.workflow.users import authenticate

#: At most this many studies in one batch: each renders its signed PDF, and the answer lists each one.
MAX_BATCH = 50


@dataclass(frozen=True)
class QueuedStudy:
    """A study on the physician's own worklist (its latest version reviewed by them), ready or not."""

    study_id: int
    patient_name: str
    patient_id: str
    service: str
    priority: str
    version: int
    reviewed_at: datetime | None  # aware, UTC
    interpretation: str
    ready: bool
    reason: str | None
    #: the version this physician reviewed (``version`` when that is the latest; older when the report was
    #: rendered again since, unreviewed)
    reviewed_version: int | None = None
    #: the worklist's mark (:func:`ecgdesk.workflow.review.changed_after_sending`)
    changed_after_sending: bool = False


@dataclass(frozen=True)
class Refusal:
    study_id: int
    reason: str


@dataclass(frozen=True)
class BatchSigned:
    meaning: str
    signed: list[SignatureInfo]
    refused: list[Refusal]


def _latest(session: Session, study_id: int) -> ReportVersion | None:
    return session.scalar(
        select(ReportVersion).where(ReportVersion.study_id == study_id).order_by(ReportVersion.version.desc())
    )


def _last_review(session: Session, study_id: int) -> ReportVersion | None:
    """The newest reviewed version of the study (the latest one, or an older one when the report was
    rendered again since and nobody reviewed the new version yet)."""
    return session.scalar(
        select(ReportVersion)
        .where(ReportVersion.study_id == study_id, ReportVersion.reviewed_by.is_not(None))
        .order_by(ReportVersion.version.desc())
    )


def _rendered_again(latest: ReportVersion, review: ReportVersion) -> str:
    """Why a study whose latest version is unreviewed cannot be signed on ``review``, an older one."""
    return (
        f"the report was rendered again as version {latest.version} after {review.reviewed_by}'s review of "
        f"version {review.version}; read the new version and press 'Save and review' on its report page "
        "before signing"
    )


def _interpretation(session: Session, study_id: int) -> str:
    text = session.scalar(select(Interpretation.text).where(Interpretation.study_id == study_id))
    return (text or "").strip()


def _not_ready(session: Session, study: Study, latest: ReportVersion | None, username: str) -> str | None:
    """Why ``study`` is not ready for ``username``'s batch (None: ready), from the database alone; signing
    then checks again, with the PDF on disk, exactly as the single sign does."""
    if study.status != StudyStatus.REPORTED.value:
        return f"the study is {study.status}, not reported"
    if latest is not None and latest.reviewed_by is None:
        review = _last_review(session, study.id)
        if review is not None and review.reviewed_by == username:  # theirs, changed since: say so
            return _rendered_again(latest, review)
    if latest is None or latest.reviewed_by != username:
        by = f"reviewed by {latest.reviewed_by}" if latest and latest.reviewed_by else "not reviewed"
        return f"not on your worklist: its report version {latest.version if latest else '-'} is {by}"
    if not _interpretation(session, study.id):
        return "no interpretation written: write it on the study's report page and review it there"
    if latest.inputs_sha256 is not None and latest.inputs_sha256 != report_inputs_sha256(session, study):
        return (
            f"the report changed since your review of version {latest.version}: review it again on its "
            "report page"
        )
    return None


def signing_queue(
    store: Store, username: str, actor: str, offset: int = 0, limit: int | None = None
) -> Rows[QueuedStudy]:
    """The reported studies whose latest report version ``username`` reviewed, and those whose report was
    rendered again since ``username``'s review (changed after sending: never ready until reviewed again),
    urgent orders first, each with whether it is ready for a batch and why not (the read of the page is
    audited); ``offset`` and
    ``limit`` (at most :data:`MAX_PAGE`) cut one page of it, ``total`` says how many there are in all."""
    ranks = {p.value: p.rank for p in OrderPriority}
    with store.transaction() as session:
        reviewed = (
            select(ReportVersion.study_id)
            .where(ReportVersion.reviewed_by == username)
            .distinct()
            .scalar_subquery()
        )
        rows = session.execute(
            select(Study, Patient.name, Patient.external_id, Order.service, Order.priority)
            .join(Patient, Study.patient_id == Patient.id)
            .join(Order, Study.order_id == Order.id)
            .where(Study.status == StudyStatus.REPORTED.value, Study.id.in_(reviewed))
            .order_by(Study.id)
        ).all()
        changed = changed_after_sending(session, [row[0].id for row in rows])
        out = []
        for study, name, pid, service, priority in rows:
            latest = _latest(session, study.id)
            review = latest if latest is None or latest.reviewed_by else _last_review(session, study.id)
            if latest is None or review is None or review.reviewed_by != username:
                continue  # reviewed by them once, since then by another physician: theirs now
            reason = _not_ready(session, study, latest, username)
            at = review.reviewed_at
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=UTC)  # SQLite hands stored UTC back without its zone
            out.append(
                QueuedStudy(
                    study.id, name, pid, service, priority, latest.version,
                    at, _interpretation(session, study.id),
                    reason is None, reason, review.version, study.id in changed,
                )
            )
        out.sort(key=lambda q: (-ranks.get(q.priority, 0), q.study_id))
        stop = None if limit is None else offset + max(1, min(limit, MAX_PAGE))
        page = Rows(out[offset:stop], total=len(out))
        audit_read(session, actor, "sign-queue", "study", "*", {"ids": [q.study_id for q in page]})
    return page


def _ids(study_ids: Sequence[int]) -> list[int]:
    ids = list(dict.fromkeys(study_ids))  # the same study twice is signed once
    if not ids:
        raise InputError("study_ids", "choose at least one study to sign")
    if len(ids) > MAX_BATCH:
        raise InputError("study_ids", f"{len(ids)} studies; sign at most {MAX_BATCH} at once")
    return ids


def not_ready_to_sign(store: Store, study_id: int, username: str) -> str | None:
    """Why ``username`` cannot sign the study now (None: they can), as the queue says it; the report page
    offers its sign button only when this is None, so a physician is not asked for a password in vain."""
    with store.transaction() as session:
        study = session.get(Study, study_id)
        if study is None:
            raise NotFoundError("study_id", f"no study {study_id}")
        return _not_ready(session, study, _latest(session, study_id), username)


def sign_batch(
    store: Store,
    study_ids: Sequence[int],
    username: str,
    password: str,
    policy: SecurityPolicy | None = None,
) -> BatchSigned:
    """Sign each of ``study_ids`` as :func:`~ecgdesk.workflow.reporting.sign` would, with one check of the
    password first (a wrong one signs nothing); a study that fails a check is refused with the reason and
    the others are still signed."""
    ids = _ids(study_ids)
    user = authenticate(store, username, password, Role.PHYSICIAN, policy)  # a wrong one: policy's lockout
    signed: list[SignatureInfo] = []
    refused: list[Refusal] = []
    for study_id in ids:
        try:
            reason = not_ready_to_sign(store, study_id, username)
            if reason is None:
                signed.append(sign_as(store, study_id, user))
        except EcgDeskError as error:  # the single sign's refusals: this study only
            reason = getattr(error, "reason", None) or str(error)
        if reason is not None:
            refused.append(Refusal(study_id, reason))
    with store.transaction() as session:
        append(
            session,
            username,
            "report:sign-batch",
            "study",
            "*",
            None,
            {
                "requested": ids,
                "signed": [s.study_id for s in signed],
                "refused": {str(r.study_id): r.reason for r in refused},
                "meaning": MEANING,
            },
        )
    return BatchSigned(MEANING, signed, refused)
