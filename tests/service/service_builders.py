"""Helpers of the service tests: a store on each backend, the app over it, a user per role, logins."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backends import BACKENDS, make_store
from ecgdesk.records import write_recording
from ecgdesk.service import create_app
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.users import add_user

PIN = "demo-2468"
PHYSICIAN_NPI = "1234567893"
ORDERING_NPI = "1245319599"
#: One user per role (username -> role).
PEOPLE = {"admin.t": "admin", "tech.t": "technician", "dr.t": "physician", "biller.t": "biller"}
POLICY = SecurityPolicy(idle_s=600, absolute_s=3600, lockout_attempts=3, lockout_s=600, touch_s=0)
UPLOAD_LIMIT = 2_000_000
STUDY = {
    "patient_id": "P1",
    "name": "Doe, Jane",
    "birth_date": "1950-01-02",
    "sex": "F",
    "service": "ambulatory_ecg",
    "ordering_npi": ORDERING_NPI,
    "indications": ["R00.2"],
    "duration_days": 1,
}


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper argon2 in tests (the parameters are stored in each hash, so checking works the same)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        "ecgdesk.workflow.users.HASHER", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    monkeypatch.setattr("ecgdesk.workflow.users.SCRYPT_N", 1 << 10)


def add_people(store: Store) -> None:
    add_user(store, "admin.t", "admin", PIN, "Ada Admin", actor="setup")
    for name, role in PEOPLE.items():
        if role != "admin":
            npi = PHYSICIAN_NPI if role == "physician" else None
            add_user(
                store,
                name,
                role,
                PIN,
                name.title(),
                npi=npi,
                credentials="MD" if npi else None,
                actor="admin.t",
                admin_password=PIN,
            )


@pytest.fixture(params=BACKENDS)
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    store = make_store(tmp_path, request.param)
    add_people(store)
    yield store
    store.close()


@dataclass
class Api:
    """A TestClient over the app, logged in as nobody yet; ``as_(name)`` logs a user in."""

    client: TestClient
    store: Store
    app: FastAPI
    csrf: dict[str, str] = field(default_factory=dict)
    user: str | None = None

    def login(self, username: str, password: str = PIN) -> dict[str, str]:
        self.client.cookies.clear()
        answer = self.client.post("/api/v1/session", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        headers = {"X-CSRF-Token": answer.json()["csrf_token"]}
        self.csrf = headers
        return headers

    def wait(self) -> None:
        assert self.app.state.work.join(timeout=120)


def make_api(store: Store, settings: ServiceSettings | None = None) -> Iterator[Api]:
    settings = settings or ServiceSettings(upload_limit_bytes=UPLOAD_LIMIT, policy=POLICY)
    app = create_app(store, settings)
    with TestClient(app) as client:
        yield Api(client, store, app)


def web_with_study(tmp_path: Path, backend: str = "sqlite") -> Iterator[Api]:
    """The app over a store of its own, with the people and one study (created by the technician)."""
    store = make_store(tmp_path, backend)
    add_people(store)
    for api in make_api(store):
        headers = api.login("tech.t")
        assert api.client.post("/api/v1/studies", json=STUDY, headers=headers).status_code == 201
        yield api
    store.close()


@pytest.fixture
def api(store: Store) -> Iterator[Api]:
    yield from make_api(store)


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A 2-minute synthetic WFDB record: its header and signal file."""
    folder = tmp_path_factory.mktemp("tiny")
    header = write_recording(synthetic_recording(2.0, seed=3), folder, "wfdb", "tiny")
    return sorted(p for p in folder.iterdir() if p.stem == header.stem)


def upload(api: Api, study_id: int, files: list[Path], headers: dict[str, str] | None = None) -> object:
    parts = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
    return api.client.post(f"/api/v1/studies/{study_id}/recording", files=parts, headers=headers or api.csrf)
