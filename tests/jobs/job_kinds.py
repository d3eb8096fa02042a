"""Work functions of the job tests (importable by the worker processes the tests start)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ecgdesk.errors import InputError
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.runner import Done, JobContext, Outcome, Spawn

KINDS = {
    "test.sleep": "job_kinds:sleep",
    "test.crash": "job_kinds:crash",
    "test.bad_input": "job_kinds:bad_input",
    "test.split": "job_kinds:split",
}


def sleep(ctx: JobContext) -> Outcome:
    """Sleeps ``seconds`` in small steps, reporting progress; appends its pid to ``log`` when it starts."""
    log = ctx.payload.get("log")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{ctx.job_id} {os.getpid()}\n")
    seconds = float(ctx.payload.get("seconds", 0.0))
    steps = max(1, int(seconds / 0.05))
    for i in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((i + 1) / steps)
    return Done({"pid": os.getpid(), "value": ctx.payload.get("value")})


def crash(ctx: JobContext) -> Outcome:
    raise RuntimeError("simulated transient failure")


def bad_input(ctx: JobContext) -> Outcome:
    raise InputError("path", "not a recording", Path("/data/broken.hea"))


def split(ctx: JobContext) -> Outcome:
    """Splits into ``n`` sleep parts, then sums their values."""
    parts = ctx.parts()
    if not parts:
        n = int(ctx.payload["n"])
        return Spawn([JobSpec("test.sleep", {"seconds": 0.0, "value": i, "index": i}, f"{ctx.job_id}-{i}", "t")
                      for i in range(n)])
    return Done({"sum": sum(p.result["value"] for p in parts), "n": len(parts)})
