"""Several users at once on one study, with real threads: each race has one winner and a 409 for the other,
never a 500, a lost change or a doubled row, and the audit log has one row per real change."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_builders import PIN, STUDY, Api, upload
from sqlalchemy import func, select

from ecgdesk.store.models import AuditEntry, Signature, Study
from ecgdesk.workflow import reporting


def _client(api: Api, username: str) -> tuple[TestClient, dict[str, str]]:
    """A browser of its own (its own cookie), logged in as ``username``."""
    client = TestClient(api.app)
    answer = client.post("/api/v1/session", json={"username": username, "password": PIN})
    assert answer.status_code == 200, answer.text
    return client, {"X-CSRF-Token": answer.json()["csrf_token"]}


def _reported(api: Api, tiny_files: list[Path]) -> int:
    """A study analysed, interpreted and reviewed by dr.t: ready to sign."""
    headers = api.login("tech.t")
    study_id = int(api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"])
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    headers = api.login("dr.t")
    answer = api.client.post(
        f"/api/v1/studies/{study_id}/interpretation", json={"text": "Sinus rhythm."}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return study_id


def _count(api: Api, query: Any) -> int:
    with api.store.transaction() as session:
        return int(session.scalar(query) or 0)


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()))
    thread.start()
    return thread, out


def test_two_tabs_signing_at_once_give_one_signature_and_a_409(
    api: Api, tiny_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The physician presses Sign in two tabs: both requests passed the status check while the first was
    still rendering the signed PDF, and both recorded a signature (two rows, two 'report:sign')."""
    study_id = _reported(api, tiny_files)
    both = threading.Barrier(2)
    render = reporting._render

    def side_by_side(*args: Any) -> Any:  # let the two requests meet while rendering, if they can
        with contextlib.suppress(threading.BrokenBarrierError):  # the other is held outside
            both.wait(timeout=3)
        return render(*args)

    monkeypatch.setattr(reporting, "_render", side_by_side)
    tabs = [_client(api, "dr.t") for _ in range(2)]
    url = f"/api/v1/studies/{study_id}/sign"
    runs = [_in_thread(lambda c=c, h=h: c.post(url, json={"password": PIN}, headers=h)) for c, h in tabs]
    for thread, _ in runs:
        thread.join(60)
    codes = sorted(out[0].status_code for _, out in runs)
    assert codes == [200, 409], [out[0].text for _, out in runs]
    assert _count(api, select(func.count()).select_from(Signature)) == 1
    signs = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "report:sign")
    assert _count(api, signs) == 1


def test_a_comment_saved_while_the_physician_signs_is_not_signed_over(
    api: Api, tiny_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The technician saves comments while the signature's PDF renders: the signature was recorded over a
    report that no longer showed the saved comments (the check ran before rendering only)."""
    study_id = _reported(api, tiny_files)
    rendering, commented = threading.Event(), threading.Event()
    render = reporting._render

    def slow(*args: Any) -> Any:
        rendering.set()
        commented.wait(timeout=30)
        return render(*args)

    monkeypatch.setattr(reporting, "_render", slow)
    doctor, dr_headers = _client(api, "dr.t")
    tech, tech_headers = _client(api, "tech.t")
    thread, signed = _in_thread(
        lambda: doctor.post(f"/api/v1/studies/{study_id}/sign", json={"password": PIN}, headers=dr_headers)
    )
    assert rendering.wait(30)
    comment = tech.post(
        f"/api/v1/studies/{study_id}/comment", json={"text": "Patient moved a lot."}, headers=tech_headers
    )
    commented.set()
    thread.join(60)
    codes = (comment.status_code, signed[0].status_code)
    assert codes in ((200, 409), (409, 200)), (comment.text, signed[0].text)
    with api.store.transaction() as session:
        study = session.get(Study, study_id)
        assert study is not None
        signatures = int(session.scalar(select(func.count()).select_from(Signature)) or 0)
        assert (study.status, signatures) == (("reported", 0) if codes[0] == 200 else ("signed", 1))
        if codes[0] == 200:
            assert study.technician_comments == "Patient moved a lot."
