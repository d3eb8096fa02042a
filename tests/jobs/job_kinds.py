"""Work functions of the job tests (importable by the worker processes the tests start)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecgdesk.errors import InputError
from ecgdesk.jobs.queue import JobSpec
from ecgdesk.jobs.runner import BatchResult, BatchWork, Done, JobContext, Outcome, Spawn

KINDS = {
    "test.sleep": "job_kinds:sleep",
    "test.crash": "job_kinds:crash",
    "test.bad_input": "job_kinds:bad_input",
    "test.split": "job_kinds:split",
    "test.echo": "job_kinds:echo",
    "test.kill_worker": "job_kinds:kill_worker",
}
#: A study's analysis whose first attempt is slow (a worker can be killed in the middle of it).
SLOW_STUDY_KINDS = {"analysis.study": "job_kinds:slow_study_analysis"}


def sleep(ctx: JobContext) -> Outcome:
    """Sleeps ``seconds`` (``then`` seconds from the second start on: a later attempt, or a run after one
    given back) in small steps, reporting progress; appends "job pid attempt" to ``log`` when it starts."""
    log = ctx.payload.get("log")
    again = ctx.attempt > 1
    if log:
        again = again or (os.path.exists(log) and bool(Path(log).read_text().strip()))
        with open(log, "a") as handle:
            handle.write(f"{ctx.job_id} {os.getpid()} {ctx.attempt}\n")
    seconds = float(ctx.payload.get("seconds", 0.0))
    if again and "then" in ctx.payload:
        seconds = float(ctx.payload["then"])
    steps = max(1, int(seconds / 0.05))
    for i in range(steps):
        time.sleep(seconds / steps)
        ctx.progress((i + 1) / steps)
    return Done({"pid": os.getpid(), "value": ctx.payload.get("value")})


def crash(ctx: JobContext) -> Outcome:
    raise RuntimeError("simulated transient failure")


def kill_worker(ctx: JobContext) -> Outcome:
    """Kills the process that runs it (a job that brings its worker down: out of memory, a native crash)."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def bad_input(ctx: JobContext) -> Outcome:
    raise InputError("path", "not a recording", Path("/data/broken.hea"))


def split(ctx: JobContext) -> Outcome:
    """Splits into ``n`` sleep parts, then sums their values."""
    parts = ctx.parts()
    if not parts:
        n = int(ctx.payload["n"])
        return Spawn([
            JobSpec("test.sleep", {"seconds": 0.0, "value": i, "index": i}, f"{ctx.job_id}-{i}", "t")
            for i in range(n)
        ])
    return Done({"sum": sum(p.result["value"] for p in parts), "n": len(parts)})


def _echo_one(ctx: JobContext) -> Outcome:
    if ctx.payload.get("bad"):
        raise InputError("value", "not a number")
    return Done({"value": ctx.payload.get("value"), "batch": 1, "pid": os.getpid()})


def _echo_many(contexts: Sequence[JobContext]) -> list[BatchResult]:
    """Each job's value back, with the size of the batch it ran in; a ``bad`` job fails alone, a
    ``break_batch`` job makes the whole batch fail (the runner then runs them one by one)."""
    if any(c.payload.get("break_batch") for c in contexts):
        raise RuntimeError("the batch code failed")
    return [
        InputError("value", "not a number") if c.payload.get("bad")
        else Done({"value": c.payload.get("value"), "batch": len(contexts), "pid": os.getpid()})
        for c in contexts
    ]


#: A batchable kind: up to 4 jobs per run.
echo = BatchWork(_echo_one, _echo_many, size=4)


def claim_all(url: str, home: str, barrier: Any, results: Any, batch: int, rounds: int = 20) -> None:
    """A competing worker: lease jobs ``batch`` at a time, in ``rounds`` in step with the other workers
    (``barrier``); report the ids it got. Claiming in step makes them compete on any machine: a worker left
    to run free could take every job on a loaded machine before the others were even scheduled."""
    from ecgdesk.jobs import queue
    from ecgdesk.jobs.runner import store_for

    store = store_for(url, home)
    got: list[int] = []
    for _ in range(rounds):
        barrier.wait(timeout=120)
        with store.transaction() as session:
            claims = queue.claim(session, f"w{os.getpid()}", KINDS, batch, 60.0)
        got += [c.job_id for c in claims]
    results.put(got)


def slow_study_analysis(ctx: JobContext) -> Outcome:
    """The real ``analysis.study``, after a first attempt that logs "job pid attempt" to the payload's
    ``log`` and then sleeps (reporting progress) long enough to be killed in the middle."""
    from ecgdesk.workflow.analysis_jobs import run_study_analysis

    if ctx.attempt == 1:
        sleep(ctx)
    return run_study_analysis(ctx)
