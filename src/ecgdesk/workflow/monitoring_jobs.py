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

from functools import cache

from sqlalchemy.orm import Session

from ecgdesk.jobs import queue
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.runner import Done, JobContext, Outcome
from ecgdesk.store.jobs_models import Priority

KIND = "monitor.classify"
KINDS: dict[str, str] = {KIND: "ecgdesk.workflow.monitoring_jobs:run_classify"}
TRIAGE_PRIORITY = Priority.TRIAGE
TRIAGE_ACTOR = "triage"


@cache
def classifier_version() -> str:
    """What the triage's result depends on besides the strip: the strip model and the ambulatory engine."""
    from ecgdesk.analysis.findings import ALGORITHM_VERSION
    from ecgdesk.analysis.strips.model import default_ensemble

    return f"triage 1; strips {default_ensemble().version or '?'}; {ALGORITHM_VERSION}"[:100]


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
    session: Session, item_id: int, transmission_id: int, sha256: str, actor: str
) -> int:
    """Queue (or find) the classification job of an item inside the caller's transaction; its id."""
    return queue.enqueue(session, classify_spec(item_id, transmission_id, sha256), actor)[0].id


def run_classify(ctx: JobContext) -> Outcome:
    """``monitor.classify``: triage the strip and set its item's priority; the job is done in the same
    transaction (a lost lease rolls both back)."""
    from ecgdesk.workflow.monitoring import classify_item

    item_id = int(ctx.payload["item_id"])
    result: dict[str, object] = {"item_id": item_id}

    def finalize(session: Session, priority: str, changed: bool) -> None:
        result.update(priority=priority, classified=changed)
        ctx.finish_in(session, result)

    classify_item(ctx.store, item_id, TRIAGE_ACTOR, finalize=finalize, check=ctx.check)
    return Done(result)
