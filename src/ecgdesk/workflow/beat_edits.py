"""A technician's beat edit as the faces make it (workstation, API, ``study edit``): the edit, and, when the
study was already with the physician (reported), its report rendered again at once.

An edit makes a new analysis run and moves the study back to ``analyzed`` (:mod:`ecgdesk.workflow.analysis`).
On a study the technician had already sent to the physician, that left the physician's queue short of the
study until someone remembered to regenerate the report by hand. Here the report is rendered again with the
edit: the study goes back to ``reported`` (the physician's worklist) as a new, unreviewed version, so the
physician cannot sign the old one (signing wants the latest version reviewed and unchanged), and
the worklist marks it "changed after sending" (:func:`ecgdesk.workflow.review.changed_after_sending`)
until it is signed. Both rows (``report:render``, ``status:report``) are audited under the technician,
after the edit's ``analysis:edit``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecgdesk.errors import EcgDeskError
from ecgdesk.store import Store
from ecgdesk.store.enums import EditKind, StudyStatus
from ecgdesk.workflow.analysis import RunInfo, edit_beats, edit_templates
from ecgdesk.workflow.lifecycle import get_study
from ecgdesk.workflow.reporting import ReportInfo, report_study


@dataclass(frozen=True)
class EditOutcome:
    run: RunInfo
    #: the report version rendered with the edit (the study was with the physician), else None
    report: ReportInfo | None = None
    #: why the report could not be rendered again (the study stays analyzed: render it by hand)
    report_error: str | None = None

    def note(self) -> str:
        """What happened to the report, in words for the page and the command line."""
        if self.report is not None:
            return (f"the report was rendered again as version {self.report.version} and is back on the "
                    "physician's worklist, marked changed after sending")
        if self.report_error is not None:
            return (f"the report could not be rendered again ({self.report_error}): create it on the "
                    "report page")
        return ""


def edit_and_report(
    store: Store, study_id: int, kind: EditKind, targets: list[int], label: str, actor: str
) -> EditOutcome:
    """Relabel one beat, one template or several templates (``targets``), then, if the study had been sent
    to the physician and the edit changed it, render its report again."""
    with store.transaction() as session:
        was_sent = StudyStatus(get_study(session, study_id).status) is StudyStatus.REPORTED
    if kind is EditKind.TEMPLATE and len(targets) != 1:
        run = edit_templates(store, study_id, targets, label, actor)
    else:
        run = edit_beats(store, study_id, kind, targets[0] if targets else -1, label, actor)
    with store.transaction() as session:
        now_analyzed = StudyStatus(get_study(session, study_id).status) is StudyStatus.ANALYZED
    if not (was_sent and now_analyzed):
        return EditOutcome(run)
    try:
        return EditOutcome(run, report_study(store, study_id, actor))
    except EcgDeskError as error:  # the edit stands; the technician renders the report by hand
        return EditOutcome(run, report_error=str(error))

