"""Fixtures of the workflow tests: a fresh store in a temp folder and a tiny WFDB recording."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ecgdesk.coding import Service, Setting
from ecgdesk.records import write_recording
from ecgdesk.store import Store, open_store
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.studies import StudyRequest

PIN = "2468"
PHYSICIAN_NPI = "1234567893"
ORDERING_NPI = "1245319599"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(url=f"sqlite:///{tmp_path / 'db.sqlite'}", home=tmp_path / "home")
    yield store
    store.close()


@pytest.fixture(scope="session")
def tiny_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-minute synthetic WFDB record (its header path)."""
    folder = tmp_path_factory.mktemp("tiny")
    return write_recording(synthetic_recording(2.0, seed=3), folder, "wfdb", "tiny")


def request(**changes: object) -> StudyRequest:
    values: dict[str, object] = dict(
        patient_id="P1",
        name="Doe, Jane",
        birth_date=date(1950, 1, 2),
        sex="F",
        service=Service.AMBULATORY_ECG,
        ordering_npi=ORDERING_NPI,
        indications=("R00.2",),
        duration_days=8.0,
        setting=Setting.PRACTITIONER,
        place_of_service="11",
    )
    values.update(changes)
    return StudyRequest(**values)  # type: ignore[arg-type]
