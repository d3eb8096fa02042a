"""A change to the analysis of a study already with the physician, as the faces make it: a technician's
beat edit (workstation, API, ``study edit``) or a re-analysis (``study analyze``, ``POST .../analysis``,
the worker's analysis jobs), and the report rendered again.

An edit or a new current analysis run moves the study back to ``analyzed``
(:mod:`ecgdesk.workflow.analysis`). On a study the technician had already sent to the physician, that left
the physician's queue short of the study until someone remembered to regenerate the report by hand. Here
the report is rendered again with the change by a ``report.render`` job
(:mod:`ecgdesk.workflow.report_jobs`): queued by the edit (:func:`queue_report_again`; the workstation's
page follows it, ``study edit`` runs it at once) or in the transaction that ends the analysis job; only
``study analyze`` of a resting ECG or stress test, which runs no job, renders it here
(:func:`report_again`). The study goes back to ``reported`` (the physician's worklist and "To sign" list)
as a new, unreviewed version, so the physician cannot sign the old one (signing wants the latest version
reviewed and unchanged), and the worklist marks it "changed after sending"
(:func:`ecgdesk.workflow.review.changed_after_sending`) until it is signed. Both rows (``report:render``,
``status:report``) are audited under the technician who made the change, after its ``analysis:edit`` or
``analysis:run`` / ``analysis:current``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ecgdesk.errors import EcgDeskError
from ecgdesk.store import Store
from ecgdesk.store.enums import EditKind, StudyStatus
from ecgdesk.workflow.analysis import RunInfo, edit_beats, edit_templates
from ecgdesk.workflow.lifecycle import get_study
from ecgdesk.workflow.reporting import ReportInfo, report_study, version_info

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rerendered:
    """What :func:`report_again` did: the version rendered with the change, or why it could not be."""

    #: the report version rendered with the change (the study was with the physician), else None
    report: ReportInfo | None = None
    #: why the report could not be rendered again (the study stays analyzed: render it by hand)
    report_error: str | None = None
    #: the ``report.render`` job queued to render it again (the page follows it), while it has not ended
    report_job: int | None = None
    #: why the render was not needed when it ran (the study signed meanwhile): nothing was rendered
    report_note: str | None = None

    def note(self) -> str:
        """What happened to the report, in words for the page and the command line."""
        if self.report_note is not None:
            return self.report_note
        if self.report is not None:
            return (f"the report was rendered again as version {self.report.version} and is back on the "
                    "physician's worklist, marked changed after sending")
        if self.report_error is not None:
            return (f"the report could not be rendered again ({self.report_error}): create it on the "
                    "report page")
        if self.report_job is not None:
            return (f"the report is being rendered again (job {self.report_job}); it then goes back on the "
                    "physician's worklist, marked changed after sending")
        return ""


@dataclass(frozen=True, kw_only=True)
class EditOutcome(Rerendered):
    """An edit's new (or reused) analysis run, and what became of the report."""

    run: RunInfo


def was_sent(store: Store, study_id: int) -> bool:
    """Whether the study is with the physician now (reported): read before a change, for
    :func:`report_again`."""
    with store.transaction() as session:
        return StudyStatus(get_study(session, study_id).status) is StudyStatus.REPORTED


def report_again(store: Store, study_id: int, sent: bool, actor: str) -> Rerendered:
    """After a change to the analysis: if the study had been sent to the physician (``sent``, from
    :func:`was_sent` before the change) and the change moved it back to analyzed, render its report again
    under ``actor``. A failed render leaves the change standing and the study analyzed (the technician
    renders it by hand); it is said in the answer and logged."""
    with store.transaction() as session:
        now_analyzed = StudyStatus(get_study(session, study_id).status) is StudyStatus.ANALYZED
    if not (sent and now_analyzed):
        return Rerendered()
    try:
        return Rerendered(report_study(store, study_id, actor))
    except EcgDeskError as error:  # the change stands; the technician renders the report by hand
        log.warning("study %s: the report could not be rendered again after a change: %s", study_id, error)
        return Rerendered(report_error=str(error))


def queue_report_again(store: Store, study_id: int, sent: bool, actor: str) -> Rerendered:
    """:func:`report_again`, queued as a ``report.render`` job instead of rendered here (the workstation's
    edits: the render takes seconds). Read and queued in one transaction: only a study the change moved
    back to analyzed is rendered."""
    from ecgdesk.workflow.report_jobs import enqueue_report

    if not sent:
        return Rerendered()
    with store.transaction() as session:
        if StudyStatus(get_study(session, study_id).status) is not StudyStatus.ANALYZED:
            return Rerendered()
        return Rerendered(report_job=enqueue_report(session, study_id, actor))


def edit_and_queue(
    store: Store, study_id: int, kind: EditKind, targets: list[int], label: str, actor: str,
    base_run: int | None = None,
) -> EditOutcome:
    """Relabel one beat, one template or several templates (``targets``) of the current run (``base_run``
    when the editor names the run it sees: 409 if another is current), then, if the study had been sent
    to the physician and the edit changed it, queue the render of its report (``report_job``)."""
    sent = was_sent(store, study_id)
    if kind is EditKind.TEMPLATE and len(targets) != 1:
        run = edit_templates(store, study_id, targets, label, actor, base_run)
    else:
        run = edit_beats(store, study_id, kind, targets[0] if targets else -1, label, actor, base_run)
    again = queue_report_again(store, study_id, sent, actor)
    return EditOutcome(run=run, report_job=again.report_job)


def edit_and_report(
    store: Store, study_id: int, kind: EditKind, targets: list[int], label: str, actor: str,
    base_run: int | None = None,
) -> EditOutcome:
    """:func:`edit_and_queue`, and the render run here and now (``study edit``), or waited for when a
    worker has it: the new version, or why it could not be rendered."""
    from ecgdesk.workflow.jobs import run_inline

    done = edit_and_queue(store, study_id, kind, targets, label, actor, base_run)
    if done.report_job is None:
        return done
    job = run_inline(store, done.report_job)
    if job.status != "done" or job.result is None:
        log.warning("study %s: the report could not be rendered again after an edit: %s", study_id, job.error)
        return EditOutcome(run=done.run, report_error=job.error or f"render job {job.id} {job.status}")
    if job.result.get("note"):  # not needed any more (signed meanwhile): nothing rendered
        return EditOutcome(run=done.run, report_note=str(job.result["note"]))
    return EditOutcome(run=done.run, report=version_info(store, study_id, int(job.result["version"])))
