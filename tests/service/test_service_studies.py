"""The study API end to end (create, upload, background import and analysis, report, interpretation,
signature, PDF), its status codes for bad input, and the audit of every read."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from service_builders import PIN, STUDY, Api, upload
from sqlalchemy import select

from ecgdesk.store.models import AuditEntry


def _reads(api: Api, action: str) -> list[tuple[str, str]]:
    with api.store.transaction() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.entity_id)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return [(a, e) for a, e in rows]


def test_worklist_pages_filters_and_audits(api: Api) -> None:
    headers = api.login("tech.t")
    for i in range(7):
        body = {**STUDY, "patient_id": f"P{i}", "name": f"Doe, Jane {i}"}
        assert api.client.post("/api/v1/studies", json=body, headers=headers).status_code == 201
    page = api.client.get("/api/v1/studies", params={"limit": 3, "offset": 2}).json()
    assert page["total"] == 7 and [r["id"] for r in page["items"]] == [5, 4, 3]
    assert api.client.get("/api/v1/studies", params={"status": "ordered"}).json()["total"] == 7
    assert api.client.get("/api/v1/studies", params={"status": "signed"}).json()["total"] == 0
    for bad in ("' OR 1=1 --", "ordered; DROP TABLE studies", "%"):
        answer = api.client.get("/api/v1/studies", params={"status": bad})
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "status"]
    for params in ({"limit": 0}, {"limit": 10_000}, {"offset": -1}, {"offset": "x"}):
        assert api.client.get("/api/v1/studies", params=params).status_code == 422
    assert api.client.get("/api/v1/studies", params={"status": "ordered"}).json()["total"] == 7
    assert ("tech.t", "*") in _reads(api, "read:worklist")


def test_unknown_and_absurd_ids(api: Api) -> None:
    api.login("tech.t")
    assert api.client.get("/api/v1/studies/42").status_code == 404
    assert "no study with id 42" in api.client.get("/api/v1/studies/42").json()["detail"][0]["msg"]
    for bad in ("0", "-1", "99999999999999999999", "abc", "1.5"):
        assert api.client.get(f"/api/v1/studies/{bad}").status_code == 422, bad
    assert api.client.get("/api/v1/studies/42/report.pdf").status_code == 404
    api.login("admin.t")
    assert api.client.get("/api/v1/audit", params={"study_id": 42}).status_code == 404


def test_wrong_shapes_name_the_field(api: Api) -> None:
    headers = api.login("tech.t")
    cases = [
        ({**STUDY, "birth_date": "yesterday"}, ["body", "birth_date"]),
        ({**STUDY, "sex": "X"}, ["body", "sex"]),
        ({**STUDY, "ordering_npi": "123"}, ["body", "ordering_npi"]),
        ({**STUDY, "indications": []}, ["body", "indications"]),
        ({**STUDY, "duration_days": -3}, ["body", "duration_days"]),
        ({**STUDY, "extra": 1}, ["body", "extra"]),
        (
            {**STUDY, "ordering_npi": "1245319598"},
            ["ordering-npi"],
        ),  # passes the pattern, fails the check digit
        ({**STUDY, "indications": ["ZZZ.9"]}, ["indication"]),
    ]
    for body, loc in cases:
        answer = api.client.post("/api/v1/studies", json=body, headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == loc, (body, answer.text)
    answer = api.client.post("/api/v1/studies", json=[STUDY], headers=headers)
    assert answer.status_code == 422
    answer = api.client.post(
        "/api/v1/studies", content=b"\xff\xfe", headers={**headers, "content-type": "application/json"}
    )
    assert answer.status_code == 422


def test_whole_flow_over_http(api: Api, tiny_files: list[Path]) -> None:
    headers = api.login("tech.t")
    body = {**STUDY, "name": "<script>alert(1)</script> O'Brien; DROP TABLE patients"}
    study_id = api.client.post("/api/v1/studies", json=body, headers=headers).json()["id"]
    answer = upload(api, study_id, tiny_files)
    assert answer.status_code == 202, answer.text
    assert answer.json()["files"] == sorted(p.name for p in tiny_files)
    api.wait()
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["upload"]["state"] == "done", view["upload"]
    assert view["status"] == "analyzed" and view["analysis"]["total_beats"] > 100
    assert view["patient"]["name"] == body["name"]  # JSON carries the text as it is; pages escape it
    assert (
        api.client.post(
            f"/api/v1/studies/{study_id}/comment",
            json={"text": "<img src=x onerror=alert(1)>"},
            headers=headers,
        ).status_code
        == 200
    )
    assert api.client.get(f"/api/v1/studies/{study_id}/report.pdf").status_code == 404  # no report yet
    headers = api.login("dr.t")
    answer = api.client.post(f"/api/v1/studies/{study_id}/sign", json={"password": PIN}, headers=headers)
    assert answer.status_code == 409 and "status 'analyzed'" in answer.json()["detail"][0]["msg"]
    rendered = api.client.post(
        f"/api/v1/studies/{study_id}/interpretation", json={"text": "Sinus rhythm."}, headers=headers
    )
    assert rendered.status_code == 200, rendered.text
    answer = api.client.post(f"/api/v1/studies/{study_id}/sign", json={"password": "0000"}, headers=headers)
    assert answer.status_code == 403 and "re-entered" in answer.json()["detail"][0]["msg"]
    assert api.client.get("/api/v1/session").status_code == 200  # a wrong signing password keeps the session
    signed = api.client.post(f"/api/v1/studies/{study_id}/sign", json={"password": PIN}, headers=headers)
    assert signed.status_code == 200 and signed.json()["content_sha256"] == rendered.json()["content_sha256"]
    answer = api.client.post(f"/api/v1/studies/{study_id}/sign", json={"password": PIN}, headers=headers)
    assert answer.status_code == 409
    pdf = api.client.get(f"/api/v1/studies/{study_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf.headers["cache-control"] == "no-store"
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["signature_state"] == "valid"
    html = Path(view["reports"][-1]["html"]).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    api.login("admin.t")
    trail = api.client.get("/api/v1/audit", params={"study_id": study_id}).json()
    actions = [row["action"] for row in trail["items"]]
    assert {"read:study", "read:report", "report:sign", "upload:receive"} <= set(actions)
    assert api.client.get("/api/v1/audit/verify").json()["ok"] is True
    assert ("dr.t", str(study_id)) in _reads(api, "read:report")
    assert ("admin.t", str(study_id)) in _reads(api, "read:audit")


def test_upload_refusals_keep_nothing(api: Api, tiny_files: list[Path], tmp_path: Path) -> None:
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    uploads = api.store.home / "uploads"

    def refused(files: list[tuple[str, tuple[str, bytes, str]]], status: int, loc: str) -> str:
        answer = api.client.post(f"/api/v1/studies/{study_id}/recording", files=files, headers=headers)
        assert answer.status_code == status, answer.text
        assert answer.json()["detail"][0]["loc"][-1] == loc, answer.text
        assert not uploads.exists() or not any(uploads.iterdir())
        return str(answer.json()["detail"][0]["msg"])

    refused([("files", ("notes.txt", b"hello, this is not an ECG\n" * 10, "text/plain"))], 422, "files")
    refused([("files", ("../../etc/passwd", b"x", "text/plain"))], 422, "files[0].filename")
    refused([("files", ("..", b"x", "text/plain"))], 422, "files[0].filename")
    refused([("files", ("a/b.hea", b"x", "text/plain"))], 422, "files[0].filename")
    refused([("other", ("tiny.hea", b"x", "text/plain"))], 422, "form.other")
    big = b"0" * (api.app.state.settings.upload_limit_bytes + 10)
    refused([("files", ("big.dat", big, "application/octet-stream"))], 413, "content-length")
    header = [p for p in tiny_files if p.suffix == ".hea"]
    no_dat = refused([("files", (header[0].name, header[0].read_bytes(), "text/plain"))], 422, "files")
    # the file the reader could not find, not the header that was sent ("tiny.hea: no such file")
    assert no_dat == "tiny.dat: no such file (file_name[0])", no_dat
    answer = api.client.post(
        f"/api/v1/studies/{study_id}/recording",
        content=b"{}",
        headers={**headers, "content-type": "application/json"},
    )
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["content-type"]
    answer = upload(api, 999, tiny_files, headers)
    assert answer.status_code == 404
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["status"] == "ordered" and view["upload"] is None and view["recording"] is None
    assert not (api.store.home / "blobs").exists() or not any((api.store.home / "blobs").rglob("*.dat"))


def test_streamed_limit_without_content_length(api: Api) -> None:
    """A chunked body (no Content-Length) is cut off by the limit while it is received."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="x.dat"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    limit = api.app.state.settings.upload_limit_bytes

    def chunks():  # type: ignore[no-untyped-def]
        yield head
        for _ in range(limit // 65536 + 2):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = api.client.post(
        f"/api/v1/studies/{study_id}/recording",
        content=chunks(),
        headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413 and answer.json()["detail"][0]["loc"] == ["files"]
    assert not any((api.store.home / "uploads").iterdir())


def test_a_multipart_body_cut_short_is_refused(api: Api) -> None:
    """A body without its closing boundary is an upload that stopped part way: its last file may be cut
    anywhere (a CSV then reads as a shorter ECG), so it is refused and nothing is kept."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    rows = "".join(f"{i / 250:.3f},{(i % 50) / 100:.2f}\n" for i in range(2500))
    head = '--b0\r\nContent-Disposition: form-data; name="files"; filename="ecg.csv"\r\n\r\n'
    kind = {"content-type": "multipart/form-data; boundary=b0"}
    whole = (head + "time,ecg\n" + rows + "\r\n--b0--\r\n").encode()
    for body in (whole[: len(whole) // 2], whole[: -len("\r\n--b0--\r\n")]):
        answer = api.client.post(
            f"/api/v1/studies/{study_id}/recording",
            content=body,
            headers={**headers, **kind},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0] == {
            "loc": ["files"],
            "msg": "the multipart body ends before its closing boundary: the upload was cut short",
            "type": "InputError",
        }
        assert not any((api.store.home / "uploads").iterdir())
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["status"] == "ordered" and view["upload"] is None
    answer = api.client.post(
        f"/api/v1/studies/{study_id}/recording",
        content=whole,
        headers={**headers, **kind},
    )
    assert answer.status_code == 202, answer.text
    api.wait()


def test_background_failure_is_shown_not_raised(api: Api, tmp_path: Path) -> None:
    """A recording the readers accept but the import refuses shows as a failed upload with the reason."""
    headers = api.login("tech.t")
    study_id = api.client.post(
        "/api/v1/studies", json={**STUDY, "service": "stress_test"}, headers=headers
    ).json()["id"]
    csv = "time,ecg\n" + "".join(f"{i / 250:.3f},{(i % 250 == 0) * 1.0}\n" for i in range(250 * 20))
    answer = api.client.post(
        f"/api/v1/studies/{study_id}/recording",
        headers=headers,
        files=[("files", ("strip.csv", csv.encode(), "text/csv"))],
    )
    assert answer.status_code == 202, answer.text
    api.wait()
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["upload"]["state"] == "failed" and "protocol" in view["upload"]["message"]
    assert json.dumps(view)  # still a valid document


def test_coding_documents_are_typed_in_openapi(api: Api) -> None:
    """The coding facts and claim of a study are the coding package's models, in the OpenAPI document."""
    schemas = api.app.openapi()["components"]["schemas"]
    assert {"FactsDocument", "ClaimDocument", "ClaimLineDocument"} <= set(schemas)
    coding = schemas["CodingOut"]["properties"]
    assert coding["facts"]["$ref"].endswith("/FactsDocument")
    assert coding["claim"]["$ref"].endswith("/ClaimDocument")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_import_warnings_reach_the_detail_and_the_analysis_over_http(
    api: Api, tiny_files: list[Path], tmp_path: Path
) -> None:
    """A record imported (by the CLI's function) beside an ``.evt`` that is a named pipe, analysed through
    the HTTP route: the study detail lists the import's warning and the analysis carries it."""
    from ecgdesk.workflow.studies import import_recording

    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    for source in tiny_files:
        shutil.copyfile(source, tmp_path / source.name)
    os.mkfifo(tmp_path / "tiny.evt")
    warning = "event file tiny.evt ignored: is a named pipe (FIFO), not a recording file"
    assert import_recording(api.store, study_id, tmp_path / "tiny.hea", "tech.t").warnings == (warning,)
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["recording"]["import_warnings"] == [warning] and view["analysis"] is None
    answer = api.client.post(f"/api/v1/studies/{study_id}/analysis", headers=headers)
    assert answer.status_code == 202, answer.text
    api.wait()
    view = api.client.get(f"/api/v1/studies/{study_id}").json()
    assert view["status"] == "analyzed" and view["analysis"]["warnings"] == [f"at import: {warning}"]


def test_a_holter_within_29_days_of_a_monitoring_period_is_refused_with_a_reason(api: Api) -> None:
    """Reference monitoring.md section 5 rule 1 at the point of use: a 422 naming the prior set, its dates
    and the earliest completion allowed, not a claim held weeks later; a documented reason overrides it."""
    from datetime import date, timedelta

    from ecgdesk.coding import Service
    from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll

    start = date.today() - timedelta(days=5)
    info = enroll(api.store, EnrolmentRequest(
        "P1", "Doe, Jane", date(1950, 1, 2), "F", "DEV-9", Service.EVENT_MONITOR, start,
        str(STUDY["ordering_npi"]), ("R00.2",)), "tech.t")
    headers = api.login("tech.t")
    answer = api.client.post("/api/v1/studies", json=STUDY, headers=headers)
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["detail"]
    assert detail["loc"] == ["overlap"]
    earliest = (date.fromisoformat(info.end) + timedelta(days=29)).isoformat()
    for part in (f"event_monitor enrolment {info.id}", f"{info.start} to {info.end}", earliest):
        assert part in detail["msg"], detail["msg"]
    assert api.client.post("/api/v1/studies", json={**STUDY, "overlap_reason": ""}, headers=headers
                           ).status_code == 422
    reason = {**STUDY, "overlap_reason": "documented new syncope: repeat Holter ordered by cardiology"}
    created = api.client.post("/api/v1/studies", json=reason, headers=headers)
    assert created.status_code == 201, created.text
    with api.store.transaction() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "monitor:set-overlap-override"))
        assert [(a.actor, a.entity_id) for a in audit] == [("tech.t", str(created.json()["id"]))]
