"""A ``monitor.classify`` that stalls on its first attempt after the triage was computed and before its
priority is written, so a test can kill its worker in the middle of a classification (``ecgdesk worker
--kinds-module monitoring_stall_kinds``). Later attempts are the real work function unchanged."""

from __future__ import annotations

import os
import time

from ecgdesk.jobs.runner import JobContext, Outcome
from ecgdesk.workflow.monitoring_jobs import KIND, run_classify

KINDS = {KIND: "monitoring_stall_kinds:stalled_classify"}
LOG_ENV = "ECGDESK_TEST_STALL_LOG"


def stalled_classify(ctx: JobContext) -> Outcome:
    if ctx.attempt > 1:
        return run_classify(ctx)
    held = ctx.check

    def stall() -> None:  # run_classify calls this between computing the triage and writing it
        with open(os.environ[LOG_ENV], "a") as handle:
            handle.write(f"{ctx.job_id} {os.getpid()} {ctx.attempt}\n")
        while True:  # until the worker is killed (the lease is lost: this raises)
            time.sleep(0.05)
            held()

    ctx.check = stall  # type: ignore[method-assign]
    return run_classify(ctx)
