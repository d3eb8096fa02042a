"""The append-only, hash-chained audit log.

Every row stores who did what, when, to which entity, with the entity's state before and after (canonical
JSON). Its ``hash`` is the SHA-256 of the previous row's hash and the row's own fields, so editing a row
breaks its hash, deleting one breaks the sequence (``seq`` is 1, 2, 3, ... with no gap) and the next row's
``prev_hash``, and deleting the newest rows disagrees with the chain head kept in ``audit_head``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from ecgdesk.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no extra spaces, ``str`` for dates and other objects."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def row_hash(
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before_json: str,
    after_json: str,
) -> str:
    """SHA-256 (hex) that chains one audit row to the row before it."""
    payload = canonical_json([prev_hash, seq, at, actor, action, entity, entity_id, before_json, after_json])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _entry_hash(entry: AuditEntry) -> str:
    return row_hash(
        entry.prev_hash,
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.entity,
        entry.entity_id,
        entry.before_json,
        entry.after_json,
    )


ENTITY_ID_MAX = 40  # the column's length (PostgreSQL enforces it)


def entity_key(entity_id: object) -> str:
    """``entity_id`` as stored: as it is up to 40 characters, else its start and a digest of the whole
    (deterministic, so every row about the same long id gets the same key)."""
    text = str(entity_id)
    if len(text) <= ENTITY_ID_MAX:
        return text
    return f"{text[:23]}~{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


def append(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: object,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add one audit row in ``session``'s transaction (it commits or rolls back with the change it logs)."""
    head = session.get(AuditHead, 1, with_for_update=True)
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS)
    entry = AuditEntry(
        seq=seq + 1,
        at=datetime.now(UTC).isoformat(timespec="microseconds"),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_key(entity_id),
        before_json=canonical_json(before),
        after_json=canonical_json(after),
        prev_hash=prev,
        hash="",
    )
    entry.hash = _entry_hash(entry)
    session.add(entry)
    if head is None:
        session.add(AuditHead(id=1, seq=entry.seq, hash=entry.hash))
    else:
        head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    return entry


#: One audit row to add: (actor, action, entity, entity_id, before, after).
NewAuditRow = tuple[str, str, str, object, Any, Any]


def append_or_defer(session: Session, row: NewAuditRow, deferred: list[NewAuditRow] | None) -> None:
    """Add ``row`` now, or, with ``deferred``, put it in that list for the caller to write with the other
    rows of its transaction in one :func:`append_many`."""
    if deferred is None:
        append(session, *row)
    else:
        deferred.append(row)


def append_many(session: Session, rows: Sequence[NewAuditRow]) -> int:
    """Add many audit rows, chained in order, with one read and one update of the chain head.

    The same rows as calling :func:`append` for each, in one bulk insert: posting thousands of claims
    must not pay a round trip per audit row. Returns the number of rows added.
    """
    if not rows:
        return 0
    head = session.get(AuditHead, 1, with_for_update=True)
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS)
    values = []
    for actor, action, entity, entity_id, before, after in rows:
        seq += 1
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        before_json, after_json = canonical_json(before), canonical_json(after)
        key = entity_key(entity_id)  # as append stores it: rows() finds it, PostgreSQL's column takes it
        digest = row_hash(prev, seq, at, actor, action, entity, key, before_json, after_json)
        values.append(
            {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": action,
                "entity": entity,
                "entity_id": key,
                "before_json": before_json,
                "after_json": after_json,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    table = cast(Table, AuditEntry.__table__)
    session.execute(insert(table), values)  # Core executemany: no per-row ORM bookkeeping
    if head is None:
        session.add(AuditHead(id=1, seq=seq, hash=prev))
    else:
        head.seq, head.hash = seq, prev
    session.flush()
    return len(values)


@dataclass(frozen=True)
class AuditProblem:
    """The first row where the chain breaks, and why."""

    seq: int
    row_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"audit row seq {self.seq}" + (f" (id {self.row_id})" if self.row_id is not None else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class AuditReport:
    rows: int
    head_hash: str
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(session: Session) -> AuditReport:
    """Walk the chain from the first row; return the first broken row, if any."""
    prev, expected_seq, count = GENESIS, 1, 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if entry.seq != expected_seq:
            problem = AuditProblem(
                expected_seq,
                None,
                f"missing (deleted): the chain jumps from seq {expected_seq - 1} to seq {entry.seq}",
            )
            return AuditReport(count, prev, problem)
        if entry.prev_hash != prev:
            return AuditReport(
                count,
                prev,
                AuditProblem(
                    entry.seq,
                    entry.id,
                    "prev_hash does not match the hash of the row before (edited or replaced)",
                ),
            )
        if _entry_hash(entry) != entry.hash:
            return AuditReport(
                count,
                prev,
                AuditProblem(
                    entry.seq,
                    entry.id,
                    f"content does not match its hash (edited): action {entry.action!r} on "
                    f"{entry.entity} {entry.entity_id}",
                ),
            )
        prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return AuditReport(
            count,
            prev,
            AuditProblem(
                count + 1 if head_seq > count else head_seq,
                None,
                f"the chain ends at seq {count} but its head says seq {head_seq}: the newest rows were "
                "deleted or the head was edited",
            ),
        )
    return AuditReport(count, prev, None)


@dataclass(frozen=True)
class AuditRow:
    """One audit row as plain values (for ``ecgdesk audit log``)."""

    seq: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: Any
    after: Any
    hash: str


def rows(session: Session, entity: str | None = None, entity_id: object = None) -> list[AuditRow]:
    """The audit rows in order, optionally only those about one entity."""
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_key(entity_id))
    return [
        AuditRow(
            e.seq,
            e.at,
            e.actor,
            e.action,
            e.entity,
            e.entity_id,
            json.loads(e.before_json),
            json.loads(e.after_json),
            e.hash,
        )
        for e in session.scalars(query)
    ]
