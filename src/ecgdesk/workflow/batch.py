"""Bulk analysis of recording files outside studies: one job per recording, one output folder each.

:func:`batch_analyze` queues an ``analysis.file`` job per path (the same files give the same job, whose
result is reused), runs them on the given executor until every one has ended, copies each result
folder to ``OUT/<record name>/`` and writes ``OUT/summary.csv``. A recording that cannot be read fails
its own job with the reader's message; the others go on.
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgdesk.errors import InputError
from ecgdesk.jobs import queue
from ecgdesk.jobs.executor import Executor
from ecgdesk.jobs.settings import Backoff
from ecgdesk.jobs.worker import LoopStats, serve
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import JobStatus
from ecgdesk.workflow.analysis_jobs import DEFAULT_SEGMENT_S, file_analysis_spec
from ecgdesk.workflow.jobs import KINDS

SUMMARY_FIELDS = (
    "name", "path", "status", "job_id", "attempts", "total_beats", "analyzable_h", "af_burden_pct",
    "episodes", "parts", "output", "error",
)


@dataclass(frozen=True)
class BatchProgress:
    total: int
    done: int
    failed: int
    running: int
    queued: int


@dataclass(frozen=True)
class BatchItem:
    path: Path
    name: str
    job_id: int
    status: str
    attempts: int
    output: Path | None
    result: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class BatchResult:
    items: list[BatchItem]
    summary: Path
    loop: LoopStats
    wall_s: float

    def count(self, status: JobStatus) -> int:
        return sum(1 for item in self.items if item.status == status)


def _names(paths: Sequence[Path]) -> list[str]:
    """Output folder names: the record names, made unique (``sim``, ``sim-2``, ...)."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def batch_analyze(
    store: Store,
    paths: Sequence[Path],
    out: Path,
    executor: Executor,
    actor: str,
    *,
    segment_s: float | None = DEFAULT_SEGMENT_S,
    lease_s: float = queue.DEFAULT_LEASE_S,
    poll_s: float = 0.2,
    on_progress: Callable[[BatchProgress], object] | None = None,
    backoff: Backoff | None = None,
) -> BatchResult:
    """Analyse every recording in ``paths`` on ``executor`` (closed at the end) into ``out``."""
    if not paths:
        raise InputError("paths", "give at least one recording")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        executor.close()
        raise InputError("out", f"cannot create the output folder: {error.strerror or error}", out) from None
    started = time.perf_counter()
    try:
        specs = [file_analysis_spec(Path(p), segment_s=segment_s) for p in paths]
        with store.transaction() as session:
            ids = [queue.enqueue(session, spec, actor)[0].id for spec in specs]
    except BaseException:
        executor.close()
        raise
    roots = sorted(set(ids))

    def progress() -> BatchProgress:
        with store.transaction() as session:
            counts = queue.count_by_status(session, roots)
        return BatchProgress(
            len(roots),
            counts.get(JobStatus.DONE, 0),
            counts.get(JobStatus.FAILED, 0) + counts.get(JobStatus.CANCELLED, 0),
            counts.get(JobStatus.RUNNING, 0),
            counts.get(JobStatus.QUEUED, 0),
        )

    def finished() -> bool:
        state = progress()
        if on_progress is not None:
            on_progress(state)
        return state.running + state.queued == 0

    loop = serve(store, executor, KINDS, stop=finished, roots=roots, lease_s=lease_s, poll_s=poll_s,
                 backoff=backoff)
    items = _collect(store, [Path(p) for p in paths], ids, out)
    summary = out / "summary.csv"
    _write_summary(summary, items)
    return BatchResult(items, summary, loop, time.perf_counter() - started)


def _collect(store: Store, paths: list[Path], ids: list[int], out: Path) -> list[BatchItem]:
    items = []
    with store.transaction() as session:
        infos = {i: queue.info(session, queue.get_job(session, i)) for i in set(ids)}
    for path, name, job_id in zip(paths, _names(paths), ids, strict=True):
        job = infos[job_id]
        output = None
        if job.status == JobStatus.DONE and job.result is not None:
            output = out / name
            shutil.copytree(store.resolve(job.result["folder"]), output, dirs_exist_ok=True)
        items.append(
            BatchItem(path, name, job_id, job.status, job.attempts, output, job.result, job.error)
        )
    return items


def _write_summary(path: Path, items: list[BatchItem]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        for item in items:
            r = item.result or {}
            writer.writerow(
                {
                    "name": item.name,
                    "path": str(item.path),
                    "status": item.status,
                    "job_id": item.job_id,
                    "attempts": item.attempts,
                    "total_beats": r.get("total_beats", ""),
                    "analyzable_h": r.get("analyzable_h", ""),
                    "af_burden_pct": r.get("af_burden_pct", ""),
                    "episodes": r.get("episodes", ""),
                    "parts": r.get("parts", ""),
                    "output": str(item.output) if item.output else "",
                    "error": item.error or "",
                }
            )
