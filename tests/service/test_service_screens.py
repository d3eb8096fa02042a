"""Server side of the workstation's monitoring and delivery screens: a page's own refresh timer does not
keep an idle session alive, and a study page lists where its signed results went."""

from __future__ import annotations

from pathlib import Path

from service_builders import PIN, STUDY, Api, upload
from sqlalchemy import select

from ecgdesk.store.service_models import LoginSession
from ecgdesk.workflow.interop_results import add_target


def _last_seen(api: Api) -> object:
    with api.store.transaction() as session:
        return session.scalars(select(LoginSession.last_seen_at).where(LoginSession.ended_at.is_(None))).one()


def test_background_refresh_is_not_activity(api: Api) -> None:
    api.login("tech.t")
    before = _last_seen(api)
    quiet = api.client.get("/api/v1/monitoring/queue", headers={"X-ECGDesk-Background": "1"})
    assert quiet.status_code == 200 and _last_seen(api) == before
    assert api.client.get("/api/v1/monitoring/queue").status_code == 200
    assert _last_seen(api) != before  # the user's own request is activity (touch_s is 0 here)
    page = api.client.get("/monitoring")
    assert page.status_code == 200 and 'id="mq-rows"' in page.text
    api.login("biller.t")
    assert api.client.get("/monitoring").status_code == 403


def test_study_page_lists_the_deliveries(api: Api, tiny_files: list[Path]) -> None:
    add_target(api.store, "chart folder", "folder", str(api.store.home / "outbox"), ["hl7"], "admin.t")
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    assert 'data-testid="deliveries"' not in api.client.get(f"/studies/{study_id}").text
    headers = api.login("dr.t")
    base = f"/api/v1/studies/{study_id}"
    reading = {"text": "Sinus rhythm."}
    assert api.client.post(f"{base}/interpretation", json=reading, headers=headers).is_success
    assert api.client.post(f"{base}/sign", json={"password": PIN}, headers=headers).is_success
    page = api.client.get(f"/studies/{study_id}").text
    assert 'data-testid="deliveries"' in page and "chart folder" in page and "delivery-pending" in page
    # The Sent and Next try times are UTC and say so; a "when" cell does not wrap at 1024 px.
    head = page.split('data-testid="deliveries"')[1].split("</thead>")[0]
    assert '<th scope="col">Sent (UTC)</th>' in head and '<th scope="col">Next try (UTC)</th>' in head, head
    row = page.split('data-testid="deliveries"')[1].split("</tbody>")[0]
    assert row.count('<td class="when">') == 2, row


def test_an_ordered_study_page_takes_its_recording(api: Api, tiny_files: list[Path]) -> None:
    """The page of a study without a recording offers the upload to the roles that may import one
    (``recording:import``: technicians), not to a physician; once imported, the form is gone."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    page = api.client.get(f"/studies/{study_id}").text
    assert 'id="recording-form"' in page and 'id="recording-files"' in page and "No recording yet." in page
    api.login("dr.t")
    page = api.client.get(f"/studies/{study_id}").text
    assert "No recording yet." in page and 'id="recording-form"' not in page
    headers = api.login("tech.t")
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    assert 'id="recording-form"' not in api.client.get(f"/studies/{study_id}").text


def test_the_report_page_says_that_the_first_report_goes_to_the_physician(
    api: Api, tiny_files: list[Path]
) -> None:
    """An analysed study without a report offered "Regenerate report" (nothing to regenerate yet) and
    nothing said that rendering it is what sends the study to the physician (status reported): the button
    says "Create report" with that sentence beside it; once there is a report it says "Regenerate report"."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    page = api.client.get(f"/studies/{study_id}/report").text
    button = page.split('id="regenerate"')[1].split("</button>")[0]
    assert ">Create report" in button and "Regenerate" not in button, button
    assert "puts the study on the physicians' worklist" in page
    assert api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers).status_code < 300
    page = api.client.get(f"/studies/{study_id}/report").text
    button = page.split('id="regenerate"')[1].split("</button>")[0]
    assert ">Regenerate report" in button, button
    assert "puts the study on the physicians' worklist" not in page


def test_the_study_header_names_no_report_version_before_a_report(api: Api, tiny_files: list[Path]) -> None:
    """The study page of an analysed study said "Study 5 (report version 1)" while its report page said
    "No report yet.": the header is the report's, where a rendered report is version 1 at least. Before the
    first report the page (and the overview) now say "(no report yet)"; after it, the latest version."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()

    def study_row() -> str:
        overview = api.client.get(f"/api/v1/studies/{study_id}/overview", headers=headers).json()
        return str({r["label"]: r["value"] for r in overview["header_right"]}["Study"])

    assert study_row() == f"{study_id} (no report yet)"
    assert "(no report yet)" in api.client.get(f"/studies/{study_id}").text
    assert api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers).status_code < 300
    assert study_row() == f"{study_id}   (report version 1)"
    comment = {"text": "Good signal throughout.", "base": ""}  # new content: the next report is version 2
    assert api.client.post(f"/api/v1/studies/{study_id}/comment", json=comment, headers=headers).is_success
    assert api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers).status_code < 300
    assert study_row() == f"{study_id}   (report version 2)"


def test_the_viewer_names_every_key_it_answers(api: Api, tiny_files: list[Path]) -> None:
    """The viewer's "Keys:" line left out keys the viewer answers (docs/workstation.md, "Keyboard"): C
    (calipers on the RR interval), [ ] and Enter (the beat cursor and its relabel menu), A (a report strip).
    It names them now, each only where the role may use it."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    keys = api.client.get(f"/studies/{study_id}/viewer").text.split('<p class="keys">')[1].split("</p>")[0]
    said_keys = ("C calipers on the RR interval", "[ ] beat cursor", "Enter relabels it", "A adds a report")
    for said in said_keys:
        assert said in keys, (said, keys)
    api.login("dr.t")  # a physician relabels no beat
    keys = api.client.get(f"/studies/{study_id}/viewer").text.split('<p class="keys">')[1].split("</p>")[0]
    assert "C calipers on the RR interval" in keys and "Enter relabels it" not in keys, keys


def test_the_worklist_says_its_update_times_are_utc(api: Api) -> None:
    """The worklist's "Updated" column showed "2026-12-07 11:52" (UTC, from the API's "...Z") without saying
    so, beside "Recorded", which is the recorder's own clock: the column now says "(UTC)"."""
    api.login("tech.t")
    page = api.client.get("/worklist").text
    assert '<th scope="col">Updated (UTC)</th>' in page
    script = api.client.get("/static/worklist.js").text
    assert 'cell(r.updated_at.slice(0, 16).replace("T", " "), "when")' in script


def test_the_report_page_offers_signing_only_when_the_physician_can_sign(
    api: Api, tiny_files: list[Path]
) -> None:
    """'Sign report…' on a version the physician has not reviewed led to a password dialog and then a
    refusal quoting a CLI command ("review it first ('study interpret ID --user ...')"); the page now says
    what to do instead, and offers the button once their reviewed version can be signed."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    assert api.client.post(f"/api/v1/studies/{study_id}/report", headers=headers).status_code < 300
    headers = api.login("dr.t")
    page = api.client.get(f"/studies/{study_id}/report").text
    assert 'id="interp-form"' in page and 'data-testid="sign-button"' not in page
    hint = page.split('id="sign-hint"', 1)[1].split("</p>", 1)[0]
    assert "Save and review" in hint and "study interpret" not in hint, hint
    base = f"/api/v1/studies/{study_id}"
    reading = api.client.post(f"{base}/interpretation", json={"text": "Sinus rhythm."}, headers=headers)
    assert reading.is_success
    page = api.client.get(f"/studies/{study_id}/report").text
    assert 'data-testid="sign-button"' in page and 'id="sign-hint"' not in page
    # a change after the review (the technician's comments are in the report): review again first
    technician = api.login("tech.t")
    comment = api.client.post(f"{base}/comment", json={"text": "Lead II re-placed."}, headers=technician)
    assert comment.is_success, comment.text
    api.login("dr.t")
    page = api.client.get(f"/studies/{study_id}/report").text
    assert 'data-testid="sign-button"' not in page
    hint = page.split('id="sign-hint"', 1)[1].split("</p>", 1)[0]
    assert "changed since your review" in hint and "'study report'" not in hint, hint


def test_a_signed_study_head_says_signed_once(api: Api, tiny_files: list[Path]) -> None:
    """The head of a signed study showed two badges reading 'signed signed' (the status, then the valid
    signature's badge); the signature's badge is for the later states only ('coded signed')."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    headers = api.login("dr.t")
    base = f"/api/v1/studies/{study_id}"
    reading = {"text": "Sinus rhythm."}
    assert api.client.post(f"{base}/interpretation", json=reading, headers=headers).is_success
    assert api.client.post(f"{base}/sign", json={"password": PIN}, headers=headers).is_success
    for path in (f"/studies/{study_id}", f"/studies/{study_id}/report"):
        head = api.client.get(path).text.split('class="st-meta"', 1)[1].split("</div>", 1)[0]
        assert head.count(">signed</span>") == 1, head


def test_a_stress_study_page_says_the_protocol_files_age_and_sex_disagree(api: Api, tmp_path: Path) -> None:
    """The demo stress test of Moreau, Celine (F, born 1969-09-14) used the protocol file's "age 55, sex M":
    the page now gives the record's age and sex, and says plainly what the protocol file says instead."""
    from browser_builders import stress_study

    study_id = stress_study(api.store, tmp_path)
    api.login("tech.t")
    page = api.client.get(f"/studies/{study_id}").text
    used = page.split('data-testid="stress-subject">', 1)[1].split("</td>", 1)[0]
    assert used.startswith("56 / F") and "age from the patient record" in used, used
    note = page.split('data-testid="stress-subject-note">', 1)[1].split("</p>", 1)[0]
    assert note == "Protocol file says age 55, sex M; the patient record is used", note


def test_the_users_page_prints_credentials_once(api: Api) -> None:
    """A display name entered with its credentials ("Dana Demo, MD", credentials "MD") read "Dana Demo, MD,
    MD" on the users page: they are joined only when the name does not already end with them."""
    from ecgdesk.workflow.users import add_user

    add_user(api.store, "dana.demo", "physician", PIN, "Dana Demo, MD", npi="1003000126", credentials="MD",
             actor="admin.t", admin_password=PIN)
    api.login("admin.t")
    page = api.client.get("/admin/users").text
    row = page.split('data-username="dana.demo"', 1)[1].split("</tr>", 1)[0]
    assert "<td>Dana Demo, MD</td>" in row and "MD, MD" not in row, row
    assert "<td>Dr.T, MD</td>" in page.split('data-username="dr.t"', 1)[1].split("</tr>", 1)[0]
