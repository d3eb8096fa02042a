"""A report's strips changed at the moment the physician signs, on PostgreSQL (``race_builders``): the
signature covers the strips it was rendered with, or the change is refused; never a change kept on a
study already signed without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claims_workflow_builders import copy_store
from race_builders import race_in
from sqlalchemy import func, select
from test_workflow_signature import reported_template  # noqa: F401
from workflow_builders import PIN, tiny_record  # noqa: F401

from ecgdesk.errors import ConflictError
from ecgdesk.store import Store
from ecgdesk.store.models import Signature
from ecgdesk.store.workstation_models import ReportStrip
from ecgdesk.workflow.reporting import interpret, sign
from ecgdesk.workflow.strip_selection import set_strip_included, strip_selection


@pytest.fixture
def store(tmp_path: Path, reported_template: Path) -> Iterator[Store]:  # noqa: F811
    store = copy_store(reported_template, tmp_path / "copy", "postgresql")
    yield store
    store.close()


def _count(store: Store, model: Any) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_strip_changed_while_the_physician_signs_is_not_signed_over(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The technician leaves a strip out while dr.a signs: the change checked the status
    ('reported') before the signature was recorded and was written after it, so the study was signed
    with a strip selection its signed report does not show. Now the change holds the study until it
    commits, as a comment does: the signature then finds the report changed (409), or the change finds
    the study signed (409)."""
    interpret(store, 1, "dr.a", "Sinus rhythm.")
    key = strip_selection(store, 1).items[0].key
    out = race_in(
        store, monkeypatch, ("reporting", "strip_selection"),
        lambda i: sign(store, 1, "dr.a", PIN) if i == 0 else set_strip_included(store, 1, key, False, "tech"),
    )
    refused = [o for o in out if isinstance(o, ConflictError)]
    assert len(refused) == 1, out
    signed, changed = _count(store, Signature), _count(store, ReportStrip)
    assert (signed, changed) == ((1, 0) if refused[0] is out[1] else (0, 1)), out
