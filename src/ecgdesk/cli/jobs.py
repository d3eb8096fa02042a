"""``ecgdesk jobs list|show|retry|cancel``, ``ecgdesk worker`` and ``ecgdesk batch analyze``.

Thin handlers over :mod:`ecgdesk.workflow.jobs` and :mod:`ecgdesk.workflow.batch`; the database is the
one of ``study`` commands (``$ECGDESK_DATABASE_URL``, default SQLite under ``$ECGDESK_HOME``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ecgdesk.cli._common import command_store, print_json, progress


def _acting(args: argparse.Namespace, action: str) -> tuple[Any, str]:
    """The store and the authenticated acting user, allowed ``action`` by the permission table."""
    from ecgdesk.cli._auth import acting
    from ecgdesk.workflow.permissions import Action

    store = command_store()
    return store, acting(args, store, Action(action)).actor


def _line(job: Any) -> str:
    parts = job.parts
    waiting = f"  parts {parts.get('done', 0)}/{sum(parts.values())} done" if parts else ""
    where = f"  study {job.study_id}" if job.study_id is not None else ""
    error = f"  error: {job.error}" if job.error and job.status != "done" else ""
    if job.retry_wait:  # queued after a transient error: when it runs again, and why
        error = f"  {job.retry_wait}"
    return (
        f"{job.id:>6}  {job.kind:17} {job.status:9} attempts {job.attempts}/{job.max_attempts}  "
        f"{100 * job.progress:5.1f}%  priority {job.priority}{where}{waiting}{error}"
    )


def _cmd_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.jobs import count_jobs, list_jobs

    store, _ = _acting(args, "job:read")
    filters = {"status": args.status, "kind": args.kind, "study_id": args.study, "include_parts": args.parts}
    jobs = list_jobs(store, **filters, limit=args.limit, offset=args.offset)
    if args.json:
        print_json([j.to_dict() for j in jobs])
        return 0
    for job in jobs:
        print(_line(job))
    # a long queue is listed a page at a time: say how many there are and how to see the next page
    total = count_jobs(store, **filters)
    if not jobs:
        print(f"no jobs at offset {args.offset}: there are {total}" if total else "no jobs")
    elif len(jobs) < total:
        last = args.offset + len(jobs)
        more = f"; --offset {last} for the next {min(args.limit, total - last)}" if last < total else ""
        print(f"jobs {args.offset + 1}-{last} of {total}, newest first{more}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.jobs import show_job

    store, _ = _acting(args, "job:read")
    detail = show_job(store, args.job_id)
    if args.json:
        print_json({**detail.job.to_dict(), "part_jobs": [p.to_dict() for p in detail.parts]})
        return 0
    job = detail.job
    print(_line(job))
    print(f"  input {job.input_hash[:16]}...  {job.algorithm_version}  created {job.created_at} by "
          f"{job.created_by}")
    if job.lease_owner:
        print(f"  lease {job.lease_owner} until {job.lease_expires_at} (heartbeat {job.heartbeat_at})")
    if job.result is not None:
        print(f"  result {job.result}")
    for part in detail.parts:
        print("  part" + _line(part))
    return 0


def _cmd_retry(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.jobs import retry_job

    store, actor = _acting(args, "job:manage")
    print(_line(retry_job(store, args.job_id, actor)))
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.jobs import cancel_job

    store, actor = _acting(args, "job:manage")
    print(_line(cancel_job(store, args.job_id, actor)))
    return 0


def _stop_on_sigterm() -> list[bool]:
    """A flag set by SIGTERM, so ``kill PID`` stops the loop cleanly (its jobs given back)."""
    flag = [False]

    def handler(_signum: int, _frame: object) -> None:
        flag[0] = True

    signal.signal(signal.SIGTERM, handler)
    return flag


def _cmd_worker(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.jobs import kinds_with, make_executor, run_worker

    store = command_store()  # a system process, like `serve`: no user acts; its leases name it
    kinds = kinds_with(args.kinds_module)
    backoff = _backoff(args)  # a bad setting is refused before any process starts
    executor = make_executor(
        store, args.executor, concurrency=args.concurrency, scheduler=args.scheduler, kinds=kinds,
        connect_timeout_s=args.connect_timeout_s,
    )
    local = f"{args.concurrency or 1} process(es)"
    where = f"scheduler {args.scheduler}" if args.executor == "dask" else local
    print(f"ecgdesk worker: {args.executor} executor, {where}, pid {os.getpid()}", file=sys.stderr,
          flush=True)
    flag = _stop_on_sigterm()

    def stop() -> bool:  # SIGTERM, or the process that started this worker (`serve`) is gone
        return flag[0] or (args.parent_pid is not None and os.getppid() != args.parent_pid)

    stats = run_worker(
        store, executor, lease_s=args.lease_s, poll_s=args.poll_s, until_idle=args.until_idle,
        stop=stop, kinds=kinds, backoff=backoff,
    )
    if stats.waiting_note:
        print(f"ecgdesk worker: {stats.waiting_note}", file=sys.stderr)
    print(
        f"ecgdesk worker: stopped; {stats.leased} job runs started, {stats.ended} ended, "
        f"{stats.crashed} lost by the executor, {stats.requeued_expired} expired leases requeued",
        file=sys.stderr,
    )
    return 0


def _backoff(args: argparse.Namespace) -> Any:
    """The retry backoff: the environment's (ecgdesk.jobs.settings), with the flags given over it."""
    from dataclasses import replace

    from ecgdesk.jobs.settings import Backoff

    backoff = Backoff.from_env()
    if args.retry_base_s is not None:
        backoff = replace(backoff, base_s=args.retry_base_s)
    if args.retry_cap_s is not None:
        backoff = replace(backoff, cap_s=args.retry_cap_s)
    return backoff


def _cmd_batch_analyze(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.batch import BatchProgress, batch_analyze
    from ecgdesk.workflow.jobs import make_executor

    store, actor = _acting(args, "batch:analyze")
    backoff = _backoff(args)
    concurrency = args.concurrency or (os.cpu_count() or 1 if args.executor == "local" else None)
    executor = make_executor(store, args.executor, concurrency=concurrency, scheduler=args.scheduler,
                             connect_timeout_s=args.connect_timeout_s)
    segment_s = args.segment_hours * 3600 if args.segment_hours > 0 else None
    flag = _stop_on_sigterm()
    with progress(len(args.paths), "batch analyze", unit="rec") as bar:

        def show(state: BatchProgress) -> None:
            if flag[0]:
                raise KeyboardInterrupt
            bar.n = state.done + state.failed
            bar.set_postfix(done=state.done, failed=state.failed, running=state.running, refresh=False)
            bar.refresh()

        result = batch_analyze(
            store, args.paths, args.out, executor, actor, segment_s=segment_s, lease_s=args.lease_s,
            on_progress=show, backoff=backoff,
        )
    done, failed = result.count("done"), len(result.items) - result.count("done")  # type: ignore[arg-type]
    for item in result.items:
        if item.status != "done":
            print(f"{item.path}: {item.status}: {item.error}", file=sys.stderr)
    print(
        f"{len(result.items)} recordings: {done} done, {failed} failed in {result.wall_s:.1f} s; "
        f"summary in {result.summary}"
    )
    return 0 if failed == 0 else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    jobs = subparsers.add_parser("jobs", help="background jobs: list, show, retry, cancel")
    sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    from ecgdesk.cli._auth import auth_parent

    user = auth_parent()

    p = sub.add_parser("list", parents=[user], help="newest jobs first")
    p.add_argument("--status", default=None, help="queued, running, done, failed or cancelled")
    p.add_argument("--kind", default=None, help="e.g. analysis.study, analysis.file")
    p.add_argument("--study", type=int, default=None, metavar="ID", help="jobs of this study")
    p.add_argument("--parts", action="store_true", help="include the parts of split jobs")
    p.add_argument("--limit", type=int, default=50, help="jobs per page, 1 to 1000 (default 50)")
    p.add_argument("--offset", type=int, default=0, help="jobs to skip, newest first (the next page)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("show", parents=[user], help="one job, its lease, result or error, and its parts")
    p.add_argument("job_id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_show)
    p = sub.add_parser("retry", parents=[user], help="queue a failed or cancelled job again, or run a job "
                       "waiting for its retry time now")
    p.add_argument("job_id", type=int)
    p.set_defaults(func=_cmd_retry)
    p = sub.add_parser("cancel", parents=[user], help="cancel a queued or running job")
    p.add_argument("job_id", type=int)
    p.set_defaults(func=_cmd_cancel)

    worker = subparsers.add_parser(
        "worker",
        help="run queued jobs (local processes or a Dask cluster)",
        description="Lease queued jobs from the database and run them until stopped (Ctrl-C or SIGTERM: "
        "running jobs are given back). See docs/jobs.md.",
    )
    _executor_options(worker)
    worker.add_argument("--poll-s", type=float, default=1.0, help="seconds between looks at an empty queue")
    worker.add_argument("--until-idle", action="store_true",
                        help="stop when no job is queued or running (waiting for a job's retry time when it "
                        "comes within the backoff cap)")
    worker.add_argument("--kinds-module", default=None, metavar="MODULE",
                        help="also run a site's own job kinds: MODULE.KINDS = {kind: 'module:function'}")
    worker.add_argument("--parent-pid", type=int, default=None, metavar="PID",
                        help="stop when the process PID (the one that started this worker) ends")
    worker.set_defaults(func=_cmd_worker)

    batch = subparsers.add_parser("batch", help="bulk work outside studies")
    batch_sub = batch.add_subparsers(dest="batch_command", metavar="ACTION", required=True)
    p = batch_sub.add_parser(
        "analyze",
        parents=[user],
        help="analyse many recordings as jobs: OUT/<name>/ per recording and OUT/summary.csv",
        description="One job per recording (a corrupt one fails alone with the reader's message). "
        "Exit status 1 when any recording failed.",
    )
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="recording files")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--segment-hours", type=float, default=24.0,
                   help="split longer recordings into parts of this many hours (0: never split)")
    _executor_options(p, default_concurrency="the number of CPUs")
    p.set_defaults(func=_cmd_batch_analyze)


def _executor_options(parser: argparse.ArgumentParser, default_concurrency: str = "1") -> None:
    parser.add_argument("--executor", choices=("local", "dask"), default="local")
    parser.add_argument(
        "--concurrency", type=int, default=None, metavar="N",
        help=f"jobs at once (local: worker processes, default {default_concurrency}; dask: default the "
        "cluster's threads)",
    )
    parser.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler, tcp://HOST:8786")
    parser.add_argument("--connect-timeout-s", type=float, default=None, metavar="S",
                        help="give up reaching the Dask scheduler after S seconds (default "
                        "$ECGDESK_DASK_CONNECT_TIMEOUT_S, else 10)")
    parser.add_argument("--retry-base-s", type=float, default=None, metavar="S",
                        help="after a transient error a job waits S s, doubling at each attempt (default "
                        "$ECGDESK_JOB_RETRY_BASE_S, else 30; 0: retry at once)")
    parser.add_argument("--retry-cap-s", type=float, default=None, metavar="S",
                        help="the longest such wait (default $ECGDESK_JOB_RETRY_CAP_S, else 600)")
    parser.add_argument("--lease-s", type=float, default=60.0,
                        help="lease length: a job whose worker is silent this long runs again")
