"""A sent study's report rendered again, as a job (``report.render``).

A technician's beat edit of a study already with the physician renders its report again
(:mod:`ecgdesk.workflow.beat_edits`). Rendering an 8-day study's report takes seconds; inside the HTTP
request it held the technician's page (and a server thread) for about 4 s. Like the other long work it is
a job now: the edit queues it and answers at once, the page follows its progress, and the job ends in the
transaction that stores (or reuses) the version, so a job cancelled or whose worker died stores nothing
and a second run reuses the first one's version instead of rendering a duplicate.

The job is keyed by the study and its report's inputs (:func:`report_inputs_sha256`): the same inputs
are one render. It runs at STAT priority: a person waits for it, and it is seconds long.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ecgdesk import __version__
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec, Priority
from ecgdesk.jobs.runner import Done, JobContext, Outcome
from ecgdesk.store import Store
from ecgdesk.workflow.lifecycle import get_study
from ecgdesk.workflow.report_inputs import report_inputs_sha256
from ecgdesk.workflow.reporting import RenderHooks, ReportInfo, report_study

KIND = "report.render"
KINDS: dict[str, str] = {KIND: "ecgdesk.workflow.report_jobs:run_report_render"}


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
    the transaction that stores or reuses the version. A study that can no longer be reported (signed or
    cancelled meanwhile) fails the job at once with the reason, never retried."""
    study_id = int(ctx.payload["study_id"])
    actor = str(ctx.payload.get("actor") or ctx.actor)

    def finalize(session: Session, info: ReportInfo) -> None:
        ctx.finish_in(session, {"version": info.version, "reused": info.reused})

    ctx.progress(0.0)
    info = report_study(ctx.store, study_id, actor, RenderHooks(ctx.progress, finalize))
    return Done({"version": info.version, "reused": info.reused})
