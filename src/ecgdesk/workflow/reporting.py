"""Report versions, the physician's review and interpretation, the signature and addenda.

Rules (each enforced here, each tested):

* A report version is never overwritten: a changed report (re-analysis, technician edit, interpretation
  text) is a new version; rendering the same content again reuses the latest version.
* Signing needs the physician's password or PIN, re-entered at signing, and a report the same physician
  reviewed (``interpret``). The signature stores the SHA-256 of the report content
  (:func:`ecgdesk.reports.context.report_content_digest`, which excludes the signature block itself);
  signing is refused when the content or the PDF file changed since the review.
* After signing, findings and interpretation are frozen; an amendment is an addendum: a new report version
  with the addendum, signed by its author, while the earlier versions and signatures stay as they were.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.analysis.findings import findings_from_dict
from ecgdesk.coding import Component
from ecgdesk.errors import ConflictError, InputError, NotFoundError
from ecgdesk.reports.context import (
    ScanningReportContext,
    SignatureBlock,
    SimpleBeats,
)
from ecgdesk.reports.fonts import check_header_printable, check_printable
from ecgdesk.store import Store, append, file_sha256
from ecgdesk.store.enums import Role, StudyStatus
from ecgdesk.store.models import (
    Addendum,
    Interpretation,
    Order,
    ReportVersion,
    Signature,
    Study,
    User,
)
from ecgdesk.workflow.analysis import BEATS_NPZ
from ecgdesk.workflow.ecg_services import (
    ECG_SERVICES,
    build_ecg_context,
    study_service,
)
from ecgdesk.workflow.interop_results import queue_results
from ecgdesk.workflow.lifecycle import move, now, require_status, require_unchanged
from ecgdesk.workflow.locks import locked
from ecgdesk.workflow.monitoring import MONITORING_SERVICES
from ecgdesk.workflow.monitoring_period import build_monitoring_context
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.report_files import FolderTakenError, discard, latest_version
from ecgdesk.workflow.report_inputs import report_inputs_sha256
from ecgdesk.workflow.report_parts import current_run, report_parts
from ecgdesk.workflow.report_render import AnyReportContext, content_digest, version_folder
from ecgdesk.workflow.report_render import render_into as _render
from ecgdesk.workflow.strip_selection import selected_strips
from ecgdesk.workflow.studies import get_study, set_component
from ecgdesk.workflow.users import UserInfo, authenticate

MEANING = "Interpreted by"
#: An addendum's signature means the signer amended a signed report, not that they interpreted it: a second
#: physician's addendum must not read "Interpreted by" (21 CFR 11.50(a)(3), the meaning of the signature).
ADDENDUM_MEANING = "Addendum by"


@dataclass(frozen=True)
class ReportInfo:
    study_id: int
    version: int
    pdf_path: Path
    html_path: Path | None
    content_sha256: str
    reused: bool


@dataclass(frozen=True)
class RenderHooks:
    """What a job that renders a version wants told: its progress (0..1), and its end, inside the
    transaction that stores or reuses the version (so a job cancelled meanwhile stores nothing)."""

    progress: Callable[[float], object] | None = None
    finalize: Callable[[Session, ReportInfo], object] | None = None

    def report(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(fraction)

    def done(self, session: Session, info: ReportInfo) -> ReportInfo:
        if self.finalize is not None:
            self.finalize(session, info)
        return info


@dataclass(frozen=True)
class SignatureInfo:
    study_id: int
    version: int
    printed_name: str
    signed_at: datetime
    content_sha256: str
    pdf_path: Path


def _physician(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InputError("user", f"no user {username!r}; add one with 'ecgdesk user add'")
    if user.role != Role.PHYSICIAN.value:
        raise InputError("user", f"{username!r} is a {user.role}; only a physician may do this")
    return user


def _printed_name(user: User) -> str:
    return user.display_name


def _earlier_signatures(session: Session, study_id: int, version: int) -> list[SignatureBlock]:
    """The signatures of the study's versions before ``version``, oldest first, as they were printed: a
    version's PDF carries them with its own (21 CFR 11.50), so an addendum's still names the interpreter."""
    rows = session.execute(
        select(Signature, ReportVersion.version, User.credentials)
        .join(ReportVersion, Signature.report_version_id == ReportVersion.id)
        .join(User, Signature.user_id == User.id)
        .where(Signature.study_id == study_id, ReportVersion.version < version)
        .order_by(ReportVersion.version, Signature.signed_at, Signature.id)
    ).all()
    return [
        SignatureBlock(
            sig.printed_name, credentials or "", sig.signed_at, sig.content_sha256, sig.meaning, of_version
        )
        for sig, of_version, credentials in rows
    ]


def build_context(
    store: Store, session: Session, study: Study, version: int, signature: SignatureBlock | None = None
) -> AnyReportContext:
    """The report content of ``study`` as stored now, labelled as report ``version``."""
    if study_service(session, study) in MONITORING_SERVICES:  # event monitoring, telemetry: the period
        return build_monitoring_context(store, session, study, version, signature)
    if study_service(session, study) in ECG_SERVICES:  # resting ECG, stress test: their own report
        return build_ecg_context(store, session, study, version, signature)
    parts = report_parts(store, session, study, version)
    findings = findings_from_dict(json.loads(parts.run.findings_json))
    with np.load(store.resolve(parts.run.beats_path).parent / BEATS_NPZ) as data:
        beats = SimpleBeats(data["samples"], data["labels"])
    chosen = selected_strips(session, study.id, findings)  # the workstation's strip selection, if any
    return ScanningReportContext(
        header=parts.header,
        findings=findings,
        recording=parts.recording,
        beats=beats,
        technician_comments=study.technician_comments,
        interpretation=parts.interpretation,
        signature=signature,
        addenda=parts.addenda,
        event_strips=chosen[0] if chosen else None,
        patient_strips=chosen[1] if chosen else None,
    )


@locked("report")
def _new_version(
    store: Store,
    study_id: int,
    actor: str,
    allowed: set[StudyStatus],
    action: str,
    hooks: RenderHooks | None = None,
) -> ReportInfo:
    """Render a new version if the content changed since the latest (else reuse it); optionally signed."""
    hooks = hooks or RenderHooks()
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, action, allowed)
        latest = latest_version(session, study_id)
        inputs = report_inputs_sha256(session, study)
        if latest is not None and _unchanged(store, session, study, latest, inputs):
            if StudyStatus(study.status) is StudyStatus.ANALYZED:
                # the analysis came back to what the latest version shows (a re-analysis reusing its
                # run): that version is the report again, the study with the physician as a render sends it
                move(session, study, StudyStatus.REPORTED, actor, action)
            return hooks.done(session, ReportInfo(
                study_id,
                latest.version,
                store.resolve(latest.pdf_path),
                store.resolve(latest.html_path) if latest.html_path else None,
                latest.content_sha256,
                True,
            ))
        version = (latest.version if latest is not None else 0) + 1
        hooks.report(0.1)
        ctx = build_context(store, session, study, version)
    h = ctx.header
    check_header_printable({"patient_name": h.patient_name, "ordering_physician": h.ordering_physician})
    digest = content_digest(ctx)
    final = version_folder(store, study_id, version)
    hooks.report(0.3)
    try:
        pdf, html = _render(store, ctx, final)
    except FolderTakenError:
        with store.transaction() as session:
            return hooks.done(session, _stored_meanwhile(store, session, study_id, version, inputs))
    hooks.report(0.9)
    try:
        with store.transaction() as session:
            study = get_study(session, study_id)
            require_status(study, action, allowed)
            latest = latest_version(session, study_id)
            if latest is not None and latest.version >= version:
                return hooks.done(session, _stored_meanwhile(store, session, study_id, version, inputs))
            run = current_run(session, study_id)
            row = ReportVersion(
                study_id=study_id,
                version=version,
                analysis_run_id=run.id,
                content_sha256=digest,
                inputs_sha256=inputs,
                pdf_path=store.relative(pdf),
                html_path=store.relative(html) if html is not None else None,
                pdf_sha256=file_sha256(pdf),
                interpretation_text=ctx.interpretation,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            append(
                session,
                actor,
                "report:render",
                "study",
                study_id,
                None,
                {
                    "version": version,
                    "content_sha256": digest,
                    "pdf_sha256": row.pdf_sha256,
                    "analysis_run_id": run.id,
                },
            )
            if StudyStatus(study.status) in (StudyStatus.ANALYZED, StudyStatus.REPORTED):
                move(session, study, StudyStatus.REPORTED, actor, action)
            return hooks.done(session, ReportInfo(study_id, version, pdf, html, digest, False))
    except BaseException:
        discard(store, final)
        raise


def _stored_meanwhile(store: Store, session: Session, study_id: int, version: int, inputs: str) -> ReportInfo:
    """``version`` was stored by a process that took the study over from this one (stalled past its lock):
    that version, when it was rendered from the same inputs, else a :class:`ConflictError`."""
    study = get_study(session, study_id)
    latest = latest_version(session, study_id)
    if latest is None or latest.version != version or not _unchanged(store, session, study, latest, inputs):
        raise ConflictError("report", f"version {version} was rendered meanwhile by another process (it took "
                            "this study over); nothing was changed: render the report again",
                            source=f"study {study_id}")
    pdf, html = store.resolve(latest.pdf_path), store.resolve(latest.html_path) if latest.html_path else None
    return ReportInfo(study_id, latest.version, pdf, html, latest.content_sha256, True)


def version_info(store: Store, study_id: int, version: int) -> ReportInfo:
    """The stored ``version`` of the study's report (one a job rendered)."""
    with store.transaction() as session:
        row = session.scalar(select(ReportVersion).where(ReportVersion.study_id == study_id,
                                                         ReportVersion.version == version))
        if row is None:
            raise NotFoundError("report", f"study {study_id} has no report version {version}")
        html = store.resolve(row.html_path) if row.html_path else None
        return ReportInfo(study_id, row.version, store.resolve(row.pdf_path), html, row.content_sha256, False)


def report_study(store: Store, study_id: int, actor: str, hooks: RenderHooks | None = None) -> ReportInfo:
    """Render the scanning report of the current analysis (a new version only if the content changed).
    ``hooks``: a job's progress, and its end in the transaction that stores (or reuses) the version."""
    return _new_version(store, study_id, actor, {StudyStatus.ANALYZED, StudyStatus.REPORTED}, "report", hooks)


def interpret(
    store: Store, study_id: int, username: str, text: str | None = None, base: str | None = None
) -> ReportInfo:
    """The physician writes (or keeps) the interpretation and reviews the resulting report version.
    ``base``: the interpretation the editor started from; when it was changed meanwhile, refused (409)."""
    with store.transaction() as session:
        study = get_study(session, study_id, for_update=True)  # as in set_technician_comments
        require_status(study, "interpret", {StudyStatus.ANALYZED, StudyStatus.REPORTED})
        _physician(session, username)
        if text is not None:
            if not text.strip():
                raise InputError("text", "the interpretation is empty")
            check_printable("text", text)  # the signed PDF must show every character signed
            row = session.scalar(select(Interpretation).where(Interpretation.study_id == study_id))
            before = {"text": row.text, "author": row.author} if row else None
            require_unchanged(study_id, "interpretation", row.text if row else "", base,
                              row.author if row else "")
            if row is None:
                row = Interpretation(study_id=study_id, text=text.strip(), author=username, updated_at=now())
                session.add(row)
            elif row.text != text.strip():
                row.text, row.author, row.updated_at = text.strip(), username, now()
            if before is None or before["text"] != row.text:
                append(
                    session,
                    username,
                    "interpretation:write",
                    "study",
                    study_id,
                    before,
                    {"text": row.text, "author": username},
                )
    info = report_study(store, study_id, username)
    with store.transaction() as session:
        version = session.scalar(
            select(ReportVersion).where(
                ReportVersion.study_id == study_id, ReportVersion.version == info.version
            )
        )
        assert version is not None
        if version.reviewed_by != username:
            version.reviewed_by, version.reviewed_at = username, now()
            append(
                session,
                username,
                "report:review",
                "study",
                study_id,
                None,
                {"version": info.version, "content_sha256": info.content_sha256},
            )
    return info


def _unchanged(store: Store, session: Session, study: Study, latest: ReportVersion, inputs: str) -> bool:
    """Whether ``latest`` is still what the study's report would show: by the stored inputs digest
    (nothing rebuilt); versions rendered before the digest existed are rebuilt once to compare."""
    if latest.inputs_sha256 is not None:
        return latest.inputs_sha256 == inputs
    return content_digest(build_context(store, session, study, latest.version)) == latest.content_sha256


def _check_unchanged(
    store: Store, session: Session, study: Study, latest: ReportVersion, action: str
) -> None:
    if not _unchanged(store, session, study, latest, report_inputs_sha256(session, study)):
        raise ConflictError(
            "report",
            f"cannot {action}: the report content changed since version {latest.version} was rendered and "
            "reviewed; run 'study report' and review it again ('study interpret')",
            source=f"study {study.id}",
        )
    pdf = store.resolve(latest.pdf_path)
    if not pdf.exists() or file_sha256(pdf) != latest.pdf_sha256:
        raise ConflictError(
            "report",
            f"cannot {action}: the PDF of version {latest.version} was changed or removed "
            "on disk since it was rendered; run 'study report' again",
            source=str(pdf),
        )


def _signable(store: Store, session: Session, study_id: int, username: str) -> tuple[Study, ReportVersion]:
    """The study (row locked) and its latest version, if ``username`` may sign that version now."""
    study = get_study(session, study_id, for_update=True)
    require_status(study, "sign", {StudyStatus.REPORTED})
    latest = latest_version(session, study_id)
    assert latest is not None
    if latest.reviewed_by != username:
        raise ConflictError(
            "report",
            f"version {latest.version} has not been reviewed by {username!r}; review it first "
            "('study interpret ID --user ...')",
            source=f"study {study_id}",
        )
    _check_unchanged(store, session, study, latest, "sign")
    return study, latest


def sign(
    store: Store, study_id: int, username: str, password: str, policy: SecurityPolicy | None = None
) -> SignatureInfo:
    """Sign the reviewed report version with the physician's re-entered password or PIN (a wrong one
    counts towards ``policy``'s lockout, the caller's settings: the app's, the CLI's)."""
    return sign_as(store, study_id, authenticate(store, username, password, Role.PHYSICIAN, policy))


@locked("report")
def sign_as(store: Store, study_id: int, user: UserInfo) -> SignatureInfo:
    """Sign as ``user``, whose password the caller has just checked (:func:`sign`, and the batch's one
    entry for all its studies, :func:`ecgdesk.workflow.signing_batch.sign_batch`): every check and row of a
    signature is here, so a study signed in a batch is signed exactly as one signed alone.

    Under the study's lock (a second Sign, from another tab, waits and then finds the study signed), and
    checked again when the signature is recorded: the signed PDF takes a while to render, and a comment or
    interpretation saved meanwhile would otherwise be signed over without being in the signed report."""
    username = user.username
    with store.transaction() as session:
        study, latest = _signable(store, session, study_id, username)
        signer = session.get(User, user.id)
        assert signer is not None
        signed_at = now()
        block = SignatureBlock(
            _printed_name(signer), signer.credentials or "", signed_at, latest.content_sha256, MEANING,
            latest.version,
        )
        ctx = build_context(store, session, study, latest.version, block)
        ctx.earlier_signatures = _earlier_signatures(session, study_id, latest.version)
        version = latest.version
    final = version_folder(store, study_id, version) / "signed"
    pdf, html = _render(store, ctx, final)
    try:
        with store.transaction() as session:
            study, latest = _signable(store, session, study_id, username)
            if latest.version != version:
                raise ConflictError(
                    "report", f"version {latest.version} was rendered while version {version} was being "
                    "signed; review the new version and sign it", source=f"study {study_id}")
            return _record_signature(store, session, study, latest, user, pdf, html, signed_at)
    except BaseException:
        discard(store, final)
        raise


def _record_signature(
    store: Store,
    session: Session,
    study: Study,
    version: ReportVersion,
    user: UserInfo,
    pdf: Path,
    html: Path | None,
    signed_at: datetime,
) -> SignatureInfo:
    before = {"pdf_path": version.pdf_path, "pdf_sha256": version.pdf_sha256}
    version.pdf_path, version.html_path, version.pdf_sha256 = (
        store.relative(pdf),
        store.relative(html) if html else None,
        file_sha256(pdf),
    )
    session.add(
        Signature(
            study_id=study.id,
            report_version_id=version.id,
            user_id=user.id,
            printed_name=user.display_name,
            meaning=MEANING,
            content_sha256=version.content_sha256,
            signed_at=signed_at,
        )
    )
    append(
        session,
        user.username,
        "report:sign",
        "study",
        study.id,
        before,
        {
            "version": version.version,
            "content_sha256": version.content_sha256,
            "pdf_path": version.pdf_path,
            "pdf_sha256": version.pdf_sha256,
            "printed_name": user.display_name,
            "meaning": MEANING,
        },
    )
    if StudyStatus(study.status) is StudyStatus.REPORTED:
        move(session, study, StudyStatus.SIGNED, user.username, "sign")
    order = session.get(Order, study.order_id)
    assert order is not None
    set_component(session, study.id, Component.INTERPRETATION, user.display_name, user.npi, order)
    session.flush()
    queue_results(session, study, version, user.username, corrected=False)
    return SignatureInfo(study.id, version.version, user.display_name, signed_at, version.content_sha256, pdf)


@locked("report")
def add_addendum(
    store: Store,
    study_id: int,
    username: str,
    password: str,
    text: str,
    policy: SecurityPolicy | None = None,
) -> SignatureInfo:
    """Amend a signed report: a new version with the addendum, signed by its author; nothing overwritten.
    A wrong password counts towards ``policy``'s lockout (as at :func:`sign`)."""
    if not text.strip():
        raise InputError("text", "the addendum is empty")
    check_printable("text", text)  # before the password: a refused text costs no attempt
    user = authenticate(store, username, password, Role.PHYSICIAN, policy)
    allowed = {StudyStatus.SIGNED, StudyStatus.CODED, StudyStatus.BILLED}
    with store.transaction() as session:
        study = get_study(session, study_id)
        require_status(study, "add an addendum to", allowed)
        latest = latest_version(session, study_id)
        assert latest is not None
        addendum = Addendum(
            study_id=study_id,
            report_version_id=latest.id,
            text=text.strip(),
            author=username,
            created_at=now(),
        )
        session.add(addendum)
        session.flush()
        version = latest.version + 1
        ctx = build_context(store, session, study, version)
        digest = content_digest(ctx)
        signer = session.get(User, user.id)
        assert signer is not None
        signed_at = now()
        ctx.signature = SignatureBlock(
            _printed_name(signer), signer.credentials or "", signed_at, digest, ADDENDUM_MEANING, version
        )
        ctx.earlier_signatures = _earlier_signatures(session, study_id, version)
        final = version_folder(store, study_id, version)
        pdf, html = _render(store, ctx, final, session)
        try:
            run = current_run(session, study_id)
            row = ReportVersion(
                study_id=study_id,
                version=version,
                analysis_run_id=run.id,
                content_sha256=digest,
                inputs_sha256=report_inputs_sha256(session, study),
                pdf_path=store.relative(pdf),
                html_path=store.relative(html) if html is not None else None,
                pdf_sha256=file_sha256(pdf),
                interpretation_text=ctx.interpretation,
                reviewed_by=username,
                reviewed_at=signed_at,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            addendum.report_version_id = row.id
            append(
                session,
                username,
                "report:addendum",
                "study",
                study_id,
                None,
                {"version": version, "text": addendum.text, "content_sha256": digest},
            )
            session.add(
                Signature(
                    study_id=study_id,
                    report_version_id=row.id,
                    user_id=user.id,
                    printed_name=user.display_name,
                    meaning=ADDENDUM_MEANING,
                    content_sha256=digest,
                    signed_at=signed_at,
                )
            )
            append(
                session,
                username,
                "report:sign",
                "study",
                study_id,
                None,
                {
                    "version": version,
                    "content_sha256": digest,
                    "pdf_sha256": row.pdf_sha256,
                    "printed_name": user.display_name,
                    "meaning": ADDENDUM_MEANING,
                },
            )
            session.flush()
            queue_results(session, study, row, username, corrected=True)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)  # its own render (a stored one made _render refuse)
            raise
    return SignatureInfo(study_id, version, user.display_name, signed_at, digest, pdf)
