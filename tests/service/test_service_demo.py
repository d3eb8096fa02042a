"""``ecgdesk serve --demo``'s database: a user per role with the demo password and a reported demo study,
created once and opened as it is afterwards."""

from __future__ import annotations

from pathlib import Path

from ecgdesk.store import open_store
from ecgdesk.workflow.demo import DEMO_PIN, DEMO_USERS, ensure_service_demo
from ecgdesk.workflow.users import authenticate
from ecgdesk.workflow.views import show_study


def test_demo_database_is_created_once(tmp_path: Path) -> None:
    first = ensure_service_demo(tmp_path / "demo", hours=0.5)
    assert first.created and first.study_ids == (1,)
    again = ensure_service_demo(tmp_path / "demo", hours=0.5)
    assert not again.created and again.study_ids == (1,)
    store = open_store(url=first.url, home=first.home)
    try:
        roles = {authenticate(store, name, DEMO_PIN).role.value for name, _, _ in DEMO_USERS}
        assert roles == {"technician", "physician", "biller", "admin"}
        view = show_study(store, 1)
        assert view.status == "reported" and view.reports and view.analysis is not None
    finally:
        store.close()
