"""Batch signing over the API on SQLite and PostgreSQL: the physician's queue, one password for several
studies (a wrong one: 403 and nothing signed), another physician's study refused with the reason and
left unsigned, the others signed; bad bodies 422; other roles 403."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from service_builders import PIN, STUDY, Api, upload
from sqlalchemy import func, select

from ecgdesk.store.models import Signature
from ecgdesk.workflow.users import add_user


def _reported(api: Api, tiny_files: list[Path], n: int) -> list[int]:
    headers = api.login("tech.t")
    ids = []
    for i in range(n):
        body = {**STUDY, "patient_id": f"MRN-{i}", "name": f"Doe, Pat{i}"}
        study_id = int(api.client.post("/api/v1/studies", json=body, headers=headers).json()["id"])
        assert upload(api, study_id, tiny_files).status_code == 202
        ids.append(study_id)
    api.wait()
    for study_id in ids:
        assert api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers).status_code == 200
    return ids


def _status(api: Api, study_id: int) -> str:
    return str(api.client.get(f"/api/v1/studies/{study_id}").json()["status"])


def _signatures(api: Api) -> int:
    with api.store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Signature)) or 0)


def test_batch_signing_over_the_api(api: Api, tiny_files: list[Path]) -> None:
    add_user(api.store, "dr.u", "physician", PIN, "Uma U, MD", npi="1003000126", actor="admin.t",
             admin_password=PIN)
    first, second, others = _reported(api, tiny_files, 3)
    for study_id, reader in ((first, "dr.t"), (second, "dr.t"), (others, "dr.u")):
        headers = api.login(reader)
        answer = api.client.post(f"/api/v1/studies/{study_id}/interpretation",
                                 json={"text": f"Sinus rhythm. ({reader})"}, headers=headers)
        assert answer.status_code == 200, answer.text

    headers = api.login("dr.t")
    queue = api.client.get("/api/v1/signing/queue", headers=headers).json()
    assert [(q["study_id"], q["ready"]) for q in queue] == [(first, True), (second, True)]
    assert queue[0]["patient_name"] == "Doe, Pat0" and queue[0]["interpretation"] == "Sinus rhythm. (dr.t)"

    wrong = api.client.post("/api/v1/signing/batch",
                            json={"study_ids": [first, second], "password": "0000"}, headers=headers)
    assert wrong.status_code == 403 and "password" in wrong.json()["detail"][0]["msg"]
    assert _signatures(api) == 0 and {_status(api, first), _status(api, second)} == {"reported"}

    done = api.client.post("/api/v1/signing/batch",
                           json={"study_ids": [first, others, second], "password": PIN}, headers=headers)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["meaning"] == "Interpreted by"
    assert [s["study_id"] for s in body["signed"]] == [first, second]
    assert {s["printed_name"] for s in body["signed"]} == {"Dr.T"}
    assert [r["study_id"] for r in body["refused"]] == [others]
    assert "not on your worklist" in body["refused"][0]["reason"] and "dr.u" in body["refused"][0]["reason"]
    states = (_status(api, first), _status(api, second), _status(api, others))
    assert states == ("signed", "signed", "reported")
    pdf = api.client.get(f"/api/v1/studies/{first}/report/preview.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.headers["x-report-signed"] == "true"
    assert api.client.get("/api/v1/signing/queue", headers=headers).json() == []

    for bad in ({"study_ids": [], "password": PIN}, {"study_ids": list(range(1, 52)), "password": PIN},
                {"study_ids": [first], "password": ""}, {"study_ids": ["x"], "password": PIN},
                {"study_ids": [0], "password": PIN}):
        answer = api.client.post("/api/v1/signing/batch", json=bad, headers=headers)
        assert answer.status_code == 422, (bad, answer.text)
    headers = api.login("tech.t")
    refused = api.client.post("/api/v1/signing/batch", json={"study_ids": [others], "password": PIN},
                              headers=headers)
    assert refused.status_code == 403 and _status(api, others) == "reported"


def test_the_signing_page_says_the_review_time_is_utc(api: Api, tiny_files: list[Path]) -> None:
    """The "Reviewed" column said "version 1, 2026-12-04 17:09" with no time zone (stored and shown in UTC,
    as the report page's signature times say). A study changed after sending stays, marked, not ready."""
    (study_id,) = _reported(api, tiny_files, 1)
    headers = api.login("dr.t")
    answer = api.client.post(f"/api/v1/studies/{study_id}/interpretation", json={"text": "Sinus rhythm."},
                             headers=headers)
    assert answer.status_code == 200, answer.text
    queued = api.client.get("/api/v1/signing/queue", headers=headers).json()[0]
    reviewed = datetime.fromisoformat(queued["reviewed_at"])
    page = api.client.get("/signing")
    row = page.text.split(f'<tr data-study="{study_id}"')[1].split("</tr>")[0]
    # the time is one unbroken piece (at 1024 px it broke inside the date: "2026-12-" / "07 12:45 UTC")
    when = f'<span class="when">{reviewed:%Y-%m-%d %H:%M} UTC</span>'
    assert f"<td>version {queued['version']}, {when}</td>" in row, row
    assert "changed after sending" not in row and 'name="study"' in row
    if api.store.engine.dialect.name != "sqlite":
        return  # the page is the same on both; the queue's SQL is checked on both in test_workflow_signature
    # The technician edits the sent study: its report is rendered again (by a job the service runs in the
    # background); the row stays, marked, not ready, with the version reviewed and the new one (before:
    # the study left the page and the API's queue).
    edit = api.client.post(f"/api/v1/studies/{study_id}/beat-edits", json={"kind": "beat", "target": 0,
                           "label": "V"}, headers=api.login("tech.t"))
    assert edit.status_code == 200 and edit.json()["report_job"] is not None, edit.text
    api.wait()
    (changed,) = api.client.get("/api/v1/signing/queue", headers=api.login("dr.t")).json()
    assert changed["changed_after_sending"] and not changed["ready"], changed
    assert (changed["version"], changed["reviewed_version"]) == (queued["version"] + 1, queued["version"])
    row = api.client.get("/signing").text.split(f'<tr data-study="{study_id}"')[1].split("</tr>")[0]
    assert 'data-testid="changed-after-sending"' in row and 'name="study"' not in row, row
    assert f"version {queued['version']}, {when}; " in row and f"version {changed['version']} since" in row
    assert f"Not ready: the report was rendered again as version {changed['version']}" in row, row


def test_the_queue_gives_the_review_time_with_its_offset(api: Api, tiny_files: list[Path]) -> None:
    """``GET /api/v1/signing/queue`` gave ``reviewed_at`` as "2026-12-04 17:09", with no time zone, where
    every other time of the API is ISO 8601 with its offset ("2026-12-04T17:09:03.123456Z")."""
    (study_id,) = _reported(api, tiny_files, 1)
    headers = api.login("dr.t")
    answer = api.client.post(f"/api/v1/studies/{study_id}/interpretation", json={"text": "Sinus rhythm."},
                             headers=headers)
    assert answer.status_code == 200, answer.text
    text = api.client.get("/api/v1/signing/queue", headers=headers).json()[0]["reviewed_at"]
    reviewed = datetime.fromisoformat(text)
    assert "T" in text and reviewed.utcoffset() == timedelta(0), text
    assert abs(datetime.now(UTC) - reviewed) < timedelta(minutes=5), text
