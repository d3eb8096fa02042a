"""A strip batch runs its BLAS on one thread, in the calling process and in its workers.

A strip's vectors are too short to share out: OpenBLAS's second thread mostly spun, about a quarter of the
batch's CPU time, and a dot product over more than 10,000 samples (the kurtosis of a long strip) was
summed in per-thread parts, so its last bit depended on the machine's core count. The model was trained
with one BLAS thread (``OMP_NUM_THREADS=1 bench/train_strips.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from ecgdesk.analysis.strips import batch
from ecgdesk.analysis.strips.classify import StripLabel


def _blas_threads() -> int:
    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def _row_saying_threads(path: Path, lead: str | int | None = None,
                        options: batch.OpenOptions | None = None) -> batch.StripRow:
    """Stands in for :func:`batch.classify_file`: the row's reason is the BLAS thread count it ran with."""
    return batch.StripRow(path.stem, StripLabel.NORMAL, None, None, str(_blas_threads()),
                          batch.RowStatus.CLASSIFIED)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_batch_and_its_workers_run_one_blas_thread(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       jobs: int) -> None:
    paths = [tmp_path / f"s{i}.hea" for i in range(10)]
    monkeypatch.setattr(batch, "classify_file", _row_saying_threads)
    with threadpool_limits(limits=2, user_api="blas"):
        if _blas_threads() < 2:
            pytest.skip("BLAS runs one thread here whatever is asked (one core)")
        rows = list(batch.classify_files(paths, jobs=jobs))
        assert _blas_threads() == 2  # the caller's setting comes back after the batch
    assert [row.record for row in rows] == [p.stem for p in paths]
    assert {row.reason for row in rows} == {str(batch.BLAS_THREADS)} == {"1"}
