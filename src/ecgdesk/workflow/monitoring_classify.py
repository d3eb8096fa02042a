"""The triage of queued strips: read what an item needs, classify its strip, write its priority once.

:func:`classify_item` does one item (a ``monitor.classify`` job, or a command running it here); a batch
of jobs does several with the same parts in three steps, one transaction to read them all
(:func:`read_all_pending`), the engines, one transaction to write them all, which is how a worker clears
a backlog of strips (:data:`ecgdesk.workflow.monitoring_jobs.run_classify`). Either way an item's
priority is written once: the write is conditional on the item being unclassified, and it commits
together with the end of its job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError, InputError
from ecgdesk.monitoring.criteria import Criteria, default_criteria, parse_criteria
from ecgdesk.monitoring.policy import queue_policy
from ecgdesk.monitoring.triage import Priority, Triage, match, observe
from ecgdesk.records import open_recording
from ecgdesk.store import Store, append_or_defer
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.monitoring_models import CriteriaVersion, QueueItem, Transmission
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.monitoring_jobs import TRIAGE_ACTOR
from ecgdesk.workflow.users import aware

UNCLASSIFIED = "unclassified"

#: Runs in the transaction that writes an item's priority: ``(session, priority, changed)``.
Finalize = Callable[[Session, str, bool], None]


def current_criteria(
    session: Session, enrolment_id: int, at: datetime | None = None
) -> tuple[Criteria, int | None]:
    """The latest signed criteria of an enrolment (signed by ``at``, when given), or the defaults (version
    None) until one is signed."""
    query = select(CriteriaVersion).where(CriteriaVersion.enrolment_id == enrolment_id)
    if at is not None:
        query = query.where(CriteriaVersion.signed_at <= at)
    row = session.scalar(query.order_by(CriteriaVersion.version.desc()).limit(1))
    if row is None:
        return default_criteria(), None
    return parse_criteria(json.loads(row.rules_json), f"signed version {row.version}"), row.version


@dataclass(frozen=True)
class PendingStrip:
    """What the triage of one queue item needs, read from the database."""

    item_id: int
    received_at: datetime
    criteria: Criteria
    criteria_version: int | None
    strip_path: Path


@dataclass(frozen=True)
class Reading:
    """The triage of a strip, before it is written."""

    triage: Triage
    observation: dict[str, Any] | None  # None: the strip could not be read
    label: str


def read_pending(
    session: Session,
    store: Store,
    item_id: int,
    criteria_of: dict[tuple[int | None, datetime], tuple[Criteria, int | None]] | None = None,
) -> PendingStrip:
    """Queue item ``item_id`` with its strip and its patient's criteria in force when the strip arrived
    (``criteria_of``: the criteria already read in this transaction, by enrolment and time).

    A version the physician signs after the strip arrived does not apply to it: the strip's triage is the
    same whenever a worker reaches it (under a backlog, or after a stopped worker's lease), and an item's
    priority always follows the version it records."""
    item = session.get(QueueItem, item_id)
    if item is None:
        raise InputError("item", f"no queue item with id {item_id}")
    transmission = session.get(Transmission, item.transmission_id)
    assert transmission is not None
    cache = criteria_of if criteria_of is not None else {}
    key = (item.enrolment_id, item.received_at)
    if key not in cache:
        cache[key] = (
            current_criteria(session, item.enrolment_id, aware(item.received_at))
            if item.enrolment_id is not None
            else (default_criteria(), None)
        )
    criteria, version = cache[key]
    path = store.blob_root / transmission.blob_dir / transmission.main_file
    return PendingStrip(item_id, item.received_at, criteria, version, path)


def triage_strip(pending: PendingStrip) -> Reading:
    """Classify the strip and match it against the criteria; a strip that cannot be read is unreadable."""
    try:
        observation = observe(open_recording(pending.strip_path), criteria=pending.criteria)
    except EcgDeskError as error:
        return Reading(Triage(Priority.UNREADABLE, (), f"unreadable: {error}"), None, "~")
    return Reading(match(pending.criteria, observation), observation.to_dict(), observation.label)


def write_reading(
    session: Session,
    pending: PendingStrip,
    reading: Reading,
    actor: str,
    finalize: Finalize | None = None,
    audit: list[NewAuditRow] | None = None,
) -> Triage:
    """Set the item's priority unless it is classified already (then the one it has); ``finalize`` runs
    in this transaction. ``audit``: the audit row goes to that list (the caller writes it with the
    others of the transaction) instead of the log at once."""
    triage = reading.triage
    changed = session.execute(  # type: ignore[attr-defined]
        update(QueueItem)
        .where(QueueItem.id == pending.item_id, QueueItem.classified_at.is_(None))
        .values(
            priority=triage.priority.value,
            label=reading.label,
            reason=triage.reason,
            observation_json=json.dumps(reading.observation),
            criteria_version=pending.criteria_version,
            matched_json=json.dumps([r.to_dict() for r in triage.matched]),
            due_at=queue_policy().due_at(triage.priority, pending.received_at),
            classified_at=now(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        if finalize is not None:
            finalize(session, triage.priority.value, True)
        classified = {"priority": triage.priority.value, "label": reading.label, "reason": triage.reason,
                      "criteria_version": pending.criteria_version}
        append_or_defer(session, (actor, "monitor:classify", "queue_item", pending.item_id,
                                  {"priority": UNCLASSIFIED}, classified), audit)
        return triage
    item = session.get(QueueItem, pending.item_id, populate_existing=True)
    assert item is not None
    if finalize is not None:
        finalize(session, item.priority, False)
    return Triage(Priority(item.priority), (), item.reason)


def classify_item(
    store: Store,
    item_id: int,
    actor: str = TRIAGE_ACTOR,
    *,
    finalize: Finalize | None = None,
    check: Callable[[], None] | None = None,
) -> Triage:
    """Run the triage on a queued strip and set its priority, once (a second run changes nothing).

    ``finalize(session, priority, changed)`` runs in the transaction that writes the priority (the job's
    end); ``check()`` before it (a job's lease still held)."""
    with store.transaction() as session:
        pending = read_pending(session, store, item_id)
    reading = triage_strip(pending)
    if check is not None:
        check()
    with store.transaction() as session:
        return write_reading(session, pending, reading, actor, finalize)


def read_all_pending(
    session: Session, store: Store, item_ids: Sequence[int]
) -> dict[int, PendingStrip | EcgDeskError]:
    """:func:`read_pending` for several items in one transaction (each item's error in its place)."""
    items = session.scalars(select(QueueItem).where(QueueItem.id.in_(item_ids))).all()
    list(session.scalars(select(Transmission).where(Transmission.id.in_([i.transmission_id for i in items]))))
    criteria_of: dict[tuple[int | None, datetime], tuple[Criteria, int | None]] = {}
    found: dict[int, PendingStrip | EcgDeskError] = {}
    for item_id in item_ids:
        try:
            found[item_id] = read_pending(session, store, item_id, criteria_of)
        except EcgDeskError as error:
            found[item_id] = error
    return found
