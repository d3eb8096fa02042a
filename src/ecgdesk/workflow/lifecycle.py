"""The study status lifecycle: which moves are allowed, and the one function that makes them.

::

    ordered -> recorded -> analyzed -> reported -> signed -> coded -> billed
                             ^  |         |          |
                             +--+---------+          +-- (addendum: stays signed)

Re-analysis or a technician edit moves a reported study back to ``analyzed`` (its report must be rendered,
reviewed and signed again; after an edit or a re-analysis from a face or a job,
:mod:`ecgdesk.workflow.beat_edits` renders it at once);
once signed, the findings and report are frozen and only an addendum may be
added. Every move is written to the audit log in the same transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ecgdesk.errors import ConflictError, NotFoundError
from ecgdesk.store import append
from ecgdesk.store.enums import OrderState
from ecgdesk.store.enums import StudyStatus as S
from ecgdesk.store.models import Order, Study

TRANSITIONS: dict[S, frozenset[S]] = {
    S.ORDERED: frozenset({S.RECORDED}),
    S.RECORDED: frozenset({S.RECORDED, S.ANALYZED}),
    S.ANALYZED: frozenset({S.ANALYZED, S.REPORTED}),
    S.REPORTED: frozenset({S.ANALYZED, S.REPORTED, S.SIGNED}),
    S.SIGNED: frozenset({S.SIGNED, S.CODED}),
    S.CODED: frozenset({S.CODED, S.BILLED}),
    S.BILLED: frozenset(),
}


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def now() -> datetime:
    return datetime.now(UTC)


def import_warnings(study: Study) -> tuple[str, ...]:
    """What the import of the study's recording warned about (none known for studies imported before the
    warnings were stored, migration 0013)."""
    return tuple(json.loads(study.import_warnings_json)) if study.import_warnings_json else ()


def get_study(session: Session, study_id: int, for_update: bool = False) -> Study:
    """The study; ``for_update``: its row locked until the transaction ends (PostgreSQL), for a change that
    checks the status or the content first, so that a concurrent change cannot land between the check and
    the write (SQLite's BEGIN IMMEDIATE already runs writing transactions one at a time)."""
    if not 1 <= study_id <= MAX_ID:  # beyond the database's integer: no such study, not an overflow
        raise NotFoundError("study", f"no study with id {study_id} (ids run from 1 to {MAX_ID})")
    study = session.get(Study, study_id, with_for_update=for_update or None, populate_existing=for_update)
    if study is None:
        raise NotFoundError("study", f"no study with id {study_id}")
    return study


def can_move(current: S, new: S) -> bool:
    return new in TRANSITIONS[current]


def require_status(study: Study, action: str, allowed: set[S] | frozenset[S]) -> S:
    """The study's status if ``action`` is allowed in it, else :class:`InputError` saying what is needed."""
    status = S(study.status)
    if status not in allowed:
        wanted = ", ".join(sorted(s.value for s in allowed))
        raise ConflictError(
            "status",
            f"cannot {action} a study in status '{status.value}'; it must be one of: {wanted}",
            source=f"study {study.id}",
        )
    return status


def order_state(cancelled_at: datetime | None, held_at: datetime | None) -> OrderState:
    """The state of an order from what the ordering system last said of it (a cancel outranks a hold)."""
    if cancelled_at is not None:
        return OrderState.CANCELLED
    return OrderState.ON_HOLD if held_at is not None else OrderState.ACTIVE


def require_order_open(session: Session, study: Study, action: str) -> None:
    """Refuse ``action`` (taking a recording: the first work on a study) when the ordering system has
    cancelled the study's order, or holds it: work done on it could not be ordered, interpreted nor billed
    (a held order may come back changed, or be cancelled)."""
    order = session.get(Order, study.order_id)
    if order is None:
        return
    stamp = order.cancelled_at or order.held_at
    if stamp is None:
        return
    when = stamp.astimezone(UTC) if stamp.tzinfo else stamp  # SQLite hands it back naive (UTC)
    what = ("was cancelled by the ordering system" if order.cancelled_at is not None
            else "is on hold (until the ordering system releases it) since")
    raise ConflictError(
        "order",
        f"cannot {action} study {study.id}: its order (placer number {order.placer_order_number or '-'}) "
        f"{what} {'at ' if order.cancelled_at is not None else ''}{when:%Y-%m-%d %H:%M} UTC",
        source=f"study {study.id}",
    )


def require_same_recording(study: Study, recording_id: int) -> None:
    """Refuse to store an analysis of ``recording_id`` when the study's recording was replaced while it
    ran (an import takes no study lock): made current, it would describe a recording the study no longer
    has. Bad input, not a transient error: running the same job again analyses the same old input."""
    if study.recording_id == recording_id:
        return
    raise ConflictError(
        "recording",
        f"the study's recording was replaced while it was analysed (recording {recording_id}, now "
        f"{study.recording_id}); nothing was stored: analyse the study again",
        source=f"study {study.id}",
    )


def require_unchanged(study_id: int, what: str, stored: str, base: str | None, changed_by: str = "") -> None:
    """Refuse to replace ``stored`` when the editor started from another text (``base``): someone saved
    meanwhile, and a silent overwrite would lose their words. ``base`` None: the caller does not say what
    it started from (the command line, scripts), the text is replaced."""
    if base is None or base.strip() == stored:
        return
    by = f" by {changed_by}" if changed_by else ""
    raise ConflictError(
        "base",
        f"the {what} were changed{by} after you opened them; reload to see the saved text, then edit it",
        source=f"study {study_id}",
    )


def move(session: Session, study: Study, new: S, actor: str, action: str) -> None:
    """Move ``study`` to ``new`` (audited); refuse a move the lifecycle does not allow."""
    current = S(study.status)
    if not can_move(current, new):
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "none (final)"
        raise ConflictError(
            "status",
            f"cannot {action}: a study in status '{current.value}' cannot move to '{new.value}' "
            f"(allowed next: {allowed})",
            source=f"study {study.id}",
        )
    study.status = new.value
    study.updated_at = now()
    if current is not new:
        append(
            session,
            actor,
            f"status:{action}",
            "study",
            study.id,
            {"status": current.value},
            {"status": new.value},
        )
