"""Mark a study's service distinct (NCCI modifier 59 or X{EPSU}) with its documented reason, or unmark it.

An ECG done at a Holter hook-up is bundled into the Holter (an indicator-1 PTP pair) and denied unless its
line carries 59 or an X modifier (reference coding.md 2.4, 2.7). The modifier needs documentation of a
distinct service (its own order, tracing and report), so the mark keeps the reason, and both marking and
unmarking are audited. Coding reads the mark (``ServiceFacts.distinct_modifier``): a stored coding made
before a change of the mark is out of date until the study is coded again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.coding.facts import DISTINCT_MODIFIERS
from ecgdesk.errors import InputError, check_option
from ecgdesk.store import Store, append
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import AuditEntry, Study
from ecgdesk.workflow.lifecycle import now, require_status
from ecgdesk.workflow.permissions import Action, Principal, authorize, authorize_study
from ecgdesk.workflow.schemas import DistinctOut
from ecgdesk.workflow.studies import get_study

#: The longest reason kept: one documented sentence or two, printed on the billing page and in the audit.
MAX_REASON = 500

#: A billed study's claim is out; its mark changes with a corrected claim (``claims`` work), not here.
_OPEN = frozenset(s for s in StudyStatus if s is not StudyStatus.BILLED)


def _mark(study: Study) -> dict[str, str] | None:
    if study.distinct_modifier is None:
        return None
    return {"modifier": study.distinct_modifier, "reason": study.distinct_reason or ""}


def check_reason(reason: str) -> str:
    """The documented reason, stripped: required, printable (no control characters) and bounded."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InputError(
            "reason", "give the documented reason the service was distinct (its own order, report)"
        )
    if len(text) > MAX_REASON:
        raise InputError("reason", f"is {len(text)} characters long; at most {MAX_REASON} are kept")
    if not text.isprintable():
        raise InputError(
            "reason", "must be printable text on one line (no control characters or line breaks)"
        )
    return text


def distinct_out(session: Session, study: Study) -> DistinctOut | None:
    """The study's mark with who set it and when (the latest ``coding:distinct`` row: marking again with
    the same mark writes none, so that row set the mark in force), or None when it is not marked."""
    if study.distinct_modifier is None:
        return None
    row = session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.entity == "study",
            AuditEntry.entity_id == str(study.id),
            AuditEntry.action == "coding:distinct",
        )
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    at = datetime.fromisoformat(row.at) if row is not None else None
    return DistinctOut(
        modifier=study.distinct_modifier,
        reason=study.distinct_reason or "",
        marked_by=row.actor if row is not None else None,
        marked_at=at.replace(tzinfo=at.tzinfo or UTC) if at is not None else None,
    )


def _authorize(store: Store, study_id: int, who: Principal) -> None:
    # the role (the permission table), then the study: a physician only on a study they have a part in
    authorize(store, who, Action.STUDY_DISTINCT, "study", study_id)
    authorize_study(store, who, Action.STUDY_DISTINCT, study_id)


def mark_distinct(
    store: Store, study_id: int, modifier: str, reason: str, who: Principal
) -> dict[str, str]:
    """Record that study ``study_id``'s service was distinct, with ``modifier`` and its documented reason.

    ``modifier`` is one of XE, XS, XP, XU or 59 (any case); marking again replaces the mark (audited with
    the mark it replaced). ``who`` must be allowed ``study:distinct`` on this study (a biller; a physician
    who ordered or reads it): a refusal is audited and raised (403, exit 2).
    """
    chosen = check_option(
        "modifier", modifier.strip().upper() if isinstance(modifier, str) else modifier, DISTINCT_MODIFIERS
    )
    text = check_reason(reason)
    _authorize(store, study_id, who)
    actor = who.actor
    with store.transaction() as session:
        # locked: a second mark at the same moment waits, and its audit row names this mark as replaced
        study = get_study(session, study_id, for_update=True)
        require_status(study, "mark as a distinct service", _OPEN)
        before = _mark(study)
        study.distinct_modifier, study.distinct_reason = chosen, text
        study.updated_at = now()
        after = _mark(study)
        assert after is not None
        if before != after:
            append(session, actor, "coding:distinct", "study", study_id, before, after)
        return after


def clear_distinct(store: Store, study_id: int, who: Principal) -> None:
    """Remove study ``study_id``'s distinct-service mark (audited with the mark removed); refused when it
    has none, so a mistyped study number does not pass for a removal, and refused (audited) to whom
    ``mark_distinct`` refuses."""
    _authorize(store, study_id, who)
    actor = who.actor
    with store.transaction() as session:
        study = get_study(session, study_id, for_update=True)  # as mark_distinct
        require_status(study, "unmark as a distinct service", _OPEN)
        before = _mark(study)
        if before is None:
            raise InputError(
                "distinct", "the study is not marked a distinct service", source=f"study {study_id}"
            )
        study.distinct_modifier = study.distinct_reason = None
        study.updated_at = now()
        append(session, actor, "coding:distinct-removed", "study", study_id, before, None)
