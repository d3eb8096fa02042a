"""A sent study's report rendered again, as a job (``report.render``).

A technician's beat edit of a study already with the physician renders its report again
(:mod:`ecgdesk.workflow.beat_edits`). Rendering an 8-day study's report takes seconds; inside the HTTP
request it held the technician's page (and a server thread) for about 4 s. Like the other long work it is
a job now: the edit queues it and answers at once, the page follows its progress, and the job ends in the
transaction that stores (or reuses) the version, so a job cancelled or whose worker died stores nothing
and a second run reuses the first one's version instead of rendering a duplicate.

The job is keyed by the study and its report's inputs (:func:`report_inputs_sha256`): the same inputs
are one render. It runs at STAT priority: a person waits for it, and it is seconds long.

A render no longer needed when it runs (the physician signed the study meanwhile, e.g. a version the
technician rendered by hand while the job was queued) is done, not failed: its result says why nothing was
rendered (``note``), and the pages show that instead of "could not be rendered again". Until 2026-12-07 it
failed with the refusal to report a signed study.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk import __version__
from ecgdesk.errors import ConflictError
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec, Priority
from ecgdesk.jobs.runner import Done, JobContext, Outcome
from ecgdesk.store import Store
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import ReportVersion, Signature
from ecgdesk.workflow.lifecycle import get_study
from ecgdesk.workflow.report_inputs import report_inputs_sha256
from ecgdesk.workflow.reporting import RenderHooks, ReportInfo, report_study

KIND = "report.render"
KINDS: dict[str, str] = {KIND: "ecgdesk.workflow.report_jobs:run_report_render"}
#: A study past these has its report signed: nothing is rendered for it any more (a change is an addendum).
_SIGNED = frozenset({StudyStatus.SIGNED, StudyStatus.CODED, StudyStatus.BILLED})


def report_spec(session: Session, study_id: int, actor: str) -> JobSpec:
    """The job that renders ``study_id``'s report again under ``actor``, read in the caller's
    transaction (the one that made the change, so the change and its render are queued together)."""
    study = get_study(session, study_id)
    key = {"study_id": study_id, "report_inputs": report_inputs_sha256(session, study)}
    return JobSpec(KIND, {"study_id": study_id, "actor": actor}, queue.input_hash(key), __version__,
                   priority=Priority.STAT, study_id=study_id, recording_id=study.recording_id)


def enqueue_report(session: Session, study_id: int, actor: str) -> int:
    """Queue the render in ``session`` (a finished render of the same inputs runs again: the latest
    version may be another one's since, e.g. a relabel undone); the job id."""
    return queue.enqueue(session, report_spec(session, study_id, actor), actor, again=True)[0].id


def queue_report(store: Store, study_id: int, actor: str) -> int:
    """:func:`enqueue_report` in a transaction of its own."""
    with store.transaction() as session:
        return enqueue_report(session, study_id, actor)


def run_report_render(ctx: JobContext) -> Outcome:
    """``report.render``: render the study's report (a new version only if its content changed); done in
    the transaction that stores or reuses the version. A study that can no longer be reported (its
    recording replaced meanwhile) fails the job at once with the reason, never retried; one whose report
    was signed meanwhile needs no render: the job is done with the signed version and a ``note`` saying so."""
    study_id = int(ctx.payload["study_id"])
    actor = str(ctx.payload.get("actor") or ctx.actor)

    def finalize(session: Session, info: ReportInfo) -> None:
        ctx.finish_in(session, {"version": info.version, "reused": info.reused})

    ctx.progress(0.0)
    try:
        info = report_study(ctx.store, study_id, actor, RenderHooks(ctx.progress, finalize))
    except ConflictError:
        # read after the refusal, in the transaction that ends the job: signed between a check here and
        # the render's own would otherwise still fail it
        with ctx.store.transaction() as session:
            result = _signed_meanwhile(session, study_id)
            if result is None:
                raise
            ctx.finish_in(session, result)
        return Done(result)
    return Done({"version": info.version, "reused": info.reused})


def _signed_meanwhile(session: Session, study_id: int) -> dict[str, object] | None:
    """The result of a render the study's signature made needless (the signed version, and why nothing
    was rendered), or None when the study is not signed."""
    study = get_study(session, study_id)
    if StudyStatus(study.status) not in _SIGNED:
        return None
    version = session.scalar(
        select(ReportVersion.version).join(Signature, Signature.report_version_id == ReportVersion.id)
        .where(Signature.study_id == study_id).order_by(Signature.signed_at.desc(), Signature.id.desc()))
    note = f"the report was not rendered again: study {study_id} was signed with version {version} meanwhile"
    return {"version": version, "reused": True, "note": note}
