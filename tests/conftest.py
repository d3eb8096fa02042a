"""Shared fixtures: the location of ../shared/data, skipped with a reason where absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# The property suites draw the same examples on every run, so that a CI run is reproducible; the fuzz
# run in bench/ explores. HYPOTHESIS_PROFILE=explore draws new examples here too.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared/data is not beside this checkout)")
    return path


@pytest.fixture(autouse=True)
def _jobs_retry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs retry a transient error at once here (retry base 0 s), as the tests of attempts expect; the
    backoff's own tests (tests/jobs/test_jobs_backoff.py) set it, and the worker processes and Dask tasks
    get it with their claims."""
    monkeypatch.setenv("ECGDESK_JOB_RETRY_BASE_S", "0")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_path()
