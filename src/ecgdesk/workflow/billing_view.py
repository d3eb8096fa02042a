"""The biller's view of one study: the coding facts as derived from the study now, and the stored coding
(codes, the sentence explaining each choice, the scrubber's findings with their fixes).

Kept apart from :mod:`ecgdesk.workflow.billing` (which codes and bills) so the claims work of issue 16 can
extend the page's data here without touching the review workstation.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from ecgdesk.store import Store
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import ComponentPerformance
from ecgdesk.workflow.billing import coding_changes, derive_facts, facts_to_dict, latest_coding, study_facts
from ecgdesk.workflow.billing_distinct import distinct_out
from ecgdesk.workflow.permissions import audit_read
from ecgdesk.workflow.review_schemas import BillingView
from ecgdesk.workflow.studies import get_study


def billing_view(store: Store, study_id: int, actor: str) -> BillingView:
    """What the billing page shows (the read is audited as ``read:billing``)."""
    with store.transaction() as session:
        study = get_study(session, study_id)
        facts = derive_facts(study_facts(session, study))
        components = [
            {
                "component": c.component,
                "performer": c.performer,
                "npi": c.npi,
                "performed_at": c.performed_at.isoformat(),
            }
            for c in session.scalars(
                select(ComponentPerformance)
                .where(ComponentPerformance.study_id == study_id)
                .order_by(ComponentPerformance.id)
            )
        ]
        coding = latest_coding(session, study_id)
        status = StudyStatus(study.status)
        view = BillingView(
            study_id=study_id,
            status=status,
            facts=facts_to_dict(facts),
            signed=bool(facts.interpretation_signed),
            components=components,
            can_code=status in (StudyStatus.SIGNED, StudyStatus.CODED),
            can_bill=status is StudyStatus.CODED,
            can_mark=status is not StudyStatus.BILLED,
        )
        mark = distinct_out(session, study)
        if mark is not None:  # who set it and when as well (the study's view has them too)
            view.distinct = {
                "modifier": mark.modifier,
                "reason": mark.reason,
                "marked_by": mark.marked_by or "",
                "marked_at": mark.marked_at.isoformat(timespec="seconds") if mark.marked_at else "",
            }
        if coding is not None:
            result = json.loads(coding.result_json)
            view.codes = list(result.get("lines", []))
            view.explanations = [str(e) for e in result.get("explanations", [])]
            view.findings = list(json.loads(coding.scrub_json))
            view.coded_at, view.coded_by = coding.created_at, coding.created_by
            view.stale = list(coding_changes(session, study, coding))
        audit_read(session, actor, "billing", "study", study_id)
    return view
