"""The triage of a transmitted strip as a job of the durable queue (kind ``monitor.classify``).

Every transmission's queue item gets its job in the same transaction that stores it, so no strip is ever
received without its classification queued, whoever stops in between. The job runs on the workers
(``ecgdesk worker``, the one ``ecgdesk serve`` starts), ahead of every analysis (:data:`TRIAGE_PRIORITY`):
a strip may be an emergency waiting for a person, and its triage costs a fraction of a second.

The idempotency key is the transmission (its id and content hash: the same content from two devices is two
transmissions) with the classifier's version, so a strip is classified once per classifier. The job ends
in the same transaction that writes the item's priority: a worker killed mid-way (its lease expires, the job
runs again elsewhere) or one that lost its lease writes nothing, and the item is classified exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy.orm import Session

from ecgdesk.errors import EcgDeskError
from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec, LeaseLostError
from ecgdesk.jobs.runner import BatchResult, BatchWork, Done, JobContext, Outcome
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.jobs_models import Priority

KIND = "monitor.classify"
KINDS: dict[str, str] = {KIND: "ecgdesk.workflow.monitoring_jobs:run_classify"}
TRIAGE_PRIORITY = Priority.TRIAGE
TRIAGE_ACTOR = "triage"


@cache
def classifier_version() -> str:
    """What the triage's result depends on besides the strip: its own rules (``triage 2``: the shapeless-beats
    rule), the strip model, the strip rules and the ambulatory engine."""
    from ecgdesk.analysis.findings import ALGORITHM_VERSION
    from ecgdesk.analysis.strips.classify import ALGORITHM_VERSION as STRIP_RULES
    from ecgdesk.analysis.strips.model import default_ensemble

    model = default_ensemble().version or "?"
    return f"triage 2; strips model {model}; {STRIP_RULES}; {ALGORITHM_VERSION}"[:100]


def classify_spec(item_id: int, transmission_id: int, sha256: str) -> JobSpec:
    """The job that classifies queue item ``item_id`` (transmission ``transmission_id`` of content
    ``sha256``)."""
    return JobSpec(
        KIND,
        {"item_id": item_id},
        queue.input_hash({"transmission_id": transmission_id, "sha256": sha256}),
        classifier_version(),
        priority=TRIAGE_PRIORITY,
    )


def enqueue_classification(
    session: Session,
    item_id: int,
    transmission_id: int,
    sha256: str,
    actor: str,
    *,
    fresh: bool = False,
    audit: list[NewAuditRow] | None = None,
) -> int:
    """Queue (or find) the classification job of an item inside the caller's transaction; its id.
    ``fresh``: the transmission was stored in this transaction (see :func:`queue.enqueue`)."""
    spec = classify_spec(item_id, transmission_id, sha256)
    return queue.enqueue(session, spec, actor, fresh=fresh, audit=audit)[0].id


def _run_classify_one(ctx: JobContext) -> Outcome:
    """``monitor.classify`` for one item: triage the strip and set its item's priority; the job is done in
    the same transaction (a lost lease rolls both back)."""
    from ecgdesk.workflow.monitoring_classify import classify_item

    item_id = int(ctx.payload["item_id"])
    result: dict[str, object] = {"item_id": item_id}

    def finalize(session: Session, priority: str, changed: bool) -> None:
        result.update(priority=priority, classified=changed)
        ctx.finish_in(session, result)

    classify_item(ctx.store, item_id, TRIAGE_ACTOR, finalize=finalize, check=ctx.check)
    return Done(result)


def _run_classify_many(contexts: Sequence[JobContext]) -> list[BatchResult]:
    """``monitor.classify`` for a batch of items: one transaction reads them, one writes every priority
    with the end of its job (and their audit rows in one insert); a job whose lease was lost writes
    nothing, as alone."""
    from ecgdesk.store import append_many
    from ecgdesk.workflow.monitoring_classify import (
        PendingStrip,
        Reading,
        read_all_pending,
        triage_strip,
        write_reading,
    )

    store = contexts[0].store
    ids = {ctx.job_id: int(ctx.payload["item_id"]) for ctx in contexts}
    results: dict[int, BatchResult] = {}
    with store.transaction() as session:
        pending = read_all_pending(session, store, list(ids.values()))
    readings: dict[int, tuple[PendingStrip, Reading]] = {}  # by job: what was read, and its triage
    for ctx in contexts:
        found = pending[ids[ctx.job_id]]
        if isinstance(found, EcgDeskError):
            results[ctx.job_id] = found
            continue
        try:
            readings[ctx.job_id] = found, triage_strip(found)
            ctx.check()
        except Exception as error:  # its own error, alone: the batch goes on
            results[ctx.job_id] = error
            readings.pop(ctx.job_id, None)
    with store.transaction() as session:
        held = queue.held_jobs(session, [ctx.claim for ctx in contexts if ctx.job_id in readings])
        audit: list[NewAuditRow] = []
        for ctx in contexts:
            if ctx.job_id not in readings:
                continue
            if ctx.job_id not in held:
                results[ctx.job_id] = LeaseLostError(f"job {ctx.job_id}: lease {ctx.claim.owner} was lost")
                continue
            result: dict[str, object] = {"item_id": ids[ctx.job_id]}

            def finalize(session: Session, priority: str, changed: bool,
                         ctx: JobContext = ctx, result: dict[str, object] = result) -> None:
                result.update(priority=priority, classified=changed)
                queue.finish(session, ctx.claim, result, audit=audit, job=held[ctx.job_id])

            write_reading(session, *readings[ctx.job_id], TRIAGE_ACTOR, finalize, audit)
            results[ctx.job_id] = Done(result)
        append_many(session, audit)
    for ctx in contexts:  # committed: the runner must not finish these again
        ctx.finished = ctx.finished or isinstance(results.get(ctx.job_id), Done)
    return [results[ctx.job_id] for ctx in contexts]


#: The work function of ``monitor.classify``: a worker runs a backlog of strips up to 8 at a time.
run_classify = BatchWork(_run_classify_one, _run_classify_many, size=8)
