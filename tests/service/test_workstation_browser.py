"""The review workstation in a real browser (Debian's Chromium driven by Playwright) against the demo
database served by uvicorn: each role logs in; the technician walks the demo study from the worklist
through the viewer (page, zoom, calipers), relabels a template and sees the summary change, chooses the
report's strips; the technician has no sign button and the server refuses the call; the physician signs
with a wrong and then the right password and opens the signed PDF; the biller codes and bills; the
administrator manages users and checks the audit chain. The tests run in order on one server.

Screenshots go to docs/screenshots with ECGDESK_SCREENSHOTS=1 (else to a temporary folder).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_builders import (
    PIN,
    RECORD_CANVAS_TEXT,
    VIEWPORT,
    Served,
    assert_legend_above_a_track_without_text,
    assert_placeholder_fits,
    cheap_password_hashing,
    count,
    csrf,
    interpret,
    launched_chromium,
    need_browser,
    open_logged_in,
    resting_study,
    save_small,
    serve_demo,
    stress_study,
    wait_js,
)
from browser_builders import shots_folder as _shots_folder
from sqlalchemy import select, update

from ecgdesk.store.models import User
from ecgdesk.store.service_models import LoginSession

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_browser()
    with cheap_password_hashing():
        yield from serve_demo(tmp_path_factory.mktemp("workstation"))


@pytest.fixture(scope="module")
def chromium(served: Served) -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _shots_folder(tmp_path_factory.mktemp("shots"))


def log_in(chromium: Any, served: Served, username: str, password: str = PIN) -> Any:
    return open_logged_in(chromium, served.url, username, password)


def test_a_wrong_password_is_refused_in_words(chromium: Any, served: Served) -> None:
    page = chromium.new_page(viewport=VIEWPORT)
    page.goto(f"{served.url}/worklist")
    assert "/login" in page.url  # no session: the login form
    page.fill("input[name=username]", "dr.demo")
    page.fill("input[name=password]", "wrong")
    page.press("input[name=password]", "Enter")
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "password" in error.inner_text().lower()
    page.goto(f"{served.url}/login?reason=idle")
    assert "without activity" in page.locator("[data-testid=login-notice]").inner_text()
    page.close()


@pytest.mark.parametrize(
    ("username", "landing", "sees"),
    [
        ("tech.demo", "/worklist", "New study"),
        ("dr.demo", "/worklist", "Worklist"),
        ("biller.demo", "/worklist", "Worklist"),
        ("admin.demo", "/admin/users", "Audit log"),
    ],
)
def test_each_role_lands_on_its_work(
    chromium: Any, served: Served, username: str, landing: str, sees: str
) -> None:
    page = log_in(chromium, served, username)
    assert page.url.endswith(landing)
    assert sees in page.locator("header.top").inner_text()
    if username == "dr.demo":  # the physician's next work: reported studies, the demo study among them
        page.locator(f"#wl-rows tr[data-href='/studies/{served.study_id}']").wait_for()
    if username == "admin.demo":  # administrators do not read clinical data
        page.goto(f"/studies/{served.study_id}")
        assert "Not for your role" in page.locator("main").inner_text()
    if username == "biller.demo":
        page.goto(f"/studies/{served.study_id}/viewer")
        assert "Not for your role" in page.locator("main").inner_text()
    page.locator("#logout").click()
    page.wait_for_url("**/login?reason=logout")
    assert not page.errors
    page.context.close()


def test_technician_walks_the_study_through_the_viewer(chromium: Any, served: Served, shots: Path) -> None:
    page = log_in(chromium, served, "tech.demo")
    page.locator("[data-status=all]").click()
    row = page.locator(f"#wl-rows tr[data-href='/studies/{served.study_id}']")
    row.wait_for()
    assert_placeholder_fits(page, "wl-search", widths=(1280, 1024))  # 22rem cut it at 1280 px
    page.locator("#wl-search").fill("doe")
    page.locator("#wl-filter button").click()
    wait_js(page, "document.querySelectorAll('#wl-rows tr[data-href]').length === 1")
    page.locator("#wl-search").fill("")
    page.locator("#wl-filter button").click()
    wait_js(page, "document.querySelectorAll('#wl-rows tr[data-href]').length >= 4")
    save_small(page, shots / "worklist.png")
    page.locator(f"#wl-rows a[href='/studies/{served.study_id}']").click()
    page.wait_for_url(f"**/studies/{served.study_id}")
    page.locator("#trend[data-drawn]").wait_for()
    assert "Ventricular ectopy" in page.locator("[data-testid=summary]").inner_text()
    save_small(page, shots / "study.png")

    page.add_init_script(RECORD_CANVAS_TEXT)
    page.locator(".study-tabs a", has_text="ECG viewer").click()
    strip = page.locator("#strip[data-drawn]")
    strip.wait_for()
    assert_legend_above_a_track_without_text(page)  # in the track, the patient events' marks covered it
    assert page.locator("#zoom-label").inner_text().startswith("25 mm/s")
    start = float(page.get_attribute("#strip", "data-start") or 0)
    page.locator("#strip").focus()
    page.keyboard.press("ArrowRight")  # next page
    wait_js(page, f"Number(document.getElementById('strip').dataset.start) > {start}")
    page.keyboard.press("-")  # zoom out one step
    wait_js(page, "document.getElementById('strip').dataset.zoom === '1'")
    page.keyboard.press("+")
    wait_js(page, "document.getElementById('strip').dataset.zoom === '0'")
    # The same by the buttons, found by their accessible names (a screen reader says "Zoom out", not "minus").
    page.get_by_role("button", name="Zoom out", exact=True).click()
    wait_js(page, "document.getElementById('strip').dataset.zoom === '1'")
    page.get_by_role("button", name="Zoom in", exact=True).click()
    wait_js(page, "document.getElementById('strip').dataset.zoom === '0'")
    page.locator("#strip").focus()
    box = page.locator("#strip").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.45
    page.mouse.move(box["x"] + 200, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 300, y, steps=4)
    page.mouse.move(box["x"] + 389, y, steps=4)
    page.mouse.up()
    text = page.locator("[data-testid=caliper]").inner_text()
    assert " ms · " in text and text.endswith("bpm"), text
    ms = float(text.split(":")[1].split("ms")[0])
    assert abs(ms - 189 / (25 * 96 / 25.4) * 1000) < 25  # 189 px at 25 mm/s is about 2.0 s
    save_small(page, shots / "viewer.png")
    page.keyboard.press("n")  # the next event of any kind
    wait_js(page, f"Number(document.getElementById('strip').dataset.start) > {start + 1}")
    perf = page.evaluate("window.__wsPerf")
    assert perf["firstStrip"] is not None
    assert all(v <= 2 * w for v, w in zip(perf["values"], perf["widths"], strict=True)), perf
    assert not page.errors
    page.context.close()


def test_two_technicians_saving_comments_do_not_overwrite_each_other(chromium: Any, served: Served) -> None:
    """Both open the study; the first saves; the second's save, made on the page from before, is refused in
    words (reload) and the first's comments stay; the first can save again from its own page."""
    first, second = (log_in(chromium, served, "tech.demo") for _ in range(2))
    for page in (first, second):
        page.goto(f"/studies/{served.study_id}")
        page.locator("#comment-form").wait_for()
    first.fill("#comment", "Patch off for 2 h on day 3.")
    first.locator("#comment-form button[type=submit]").click()
    wait_js(first, "document.getElementById('comment-saved').textContent.startsWith('Saved')")
    second.fill("#comment", "Diary: dizzy at 14:00.")
    second.locator("#comment-form button[type=submit]").click()
    second.locator("#comment-error").wait_for()
    assert "reload" in second.locator("#comment-error").inner_text()
    first.evaluate("document.getElementById('comment-saved').textContent = ''")
    first.fill("#comment", "Patch off for 2 h on day 3. Diary: dizzy at 14:00.")
    first.locator("#comment-form button[type=submit]").click()
    wait_js(first, "document.getElementById('comment-saved').textContent.startsWith('Saved')")
    second.reload()
    assert second.locator("#comment").input_value() == "Patch off for 2 h on day 3. Diary: dizzy at 14:00."
    for page in (first, second):
        page.context.close()


def test_text_typed_before_an_idle_logoff_comes_back_after_logging_in(chromium: Any, served: Served) -> None:
    """The server logs the technician off while they type; their save is answered 401 and the page goes to
    the login form, which says the text was kept; logging in again puts it back, marked as not saved."""
    page = log_in(chromium, served, "tech.demo")
    page.goto(f"/studies/{served.study_id}")
    typed = "Electrode V2 re-placed at 09:40 after skin irritation. (Browser test.)"
    page.fill("#comment", typed)
    with served.store.transaction() as session:  # idle past the limit, as the server sees it
        tech = session.scalars(select(User.id).where(User.username == "tech.demo")).one()
        session.execute(
            update(LoginSession)
            .where(LoginSession.user_id == tech)
            .values(last_seen_at=datetime.now(UTC) - timedelta(hours=1))
        )
    page.locator("#comment-form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" in url and "reason=idle" in url)
    assert "without activity" in page.locator("[data-testid=login-notice]").inner_text()
    assert "kept in this browser tab" in page.locator("#drafts-kept").inner_text()
    page.fill("input[name=username]", "tech.demo")
    page.fill("input[name=password]", PIN)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: url.endswith(f"/studies/{served.study_id}"))
    assert page.locator("#comment").input_value() == typed
    assert "not saved yet" in page.locator("#drafts-restored").inner_text()
    assert not page.errors
    page.context.close()


def test_technician_relabels_a_template_and_the_summary_changes(
    chromium: Any, served: Served, shots: Path
) -> None:
    page = log_in(chromium, served, "tech.demo")
    page.goto(f"/studies/{served.study_id}/templates")
    card = page.locator(".tpl[data-label=V]").first
    card.wait_for()
    before = page.locator("[data-testid=beat-counts]").inner_text()
    # Each card says how its beats are labelled; with the beats in no template they add up to the study's
    # counts, and the page says in words why a template's count and its letter's count differ.
    added: dict[str, int] = {}
    lines = page.locator("[data-testid=tpl-by-label]").all_inner_texts()
    lines.append(page.locator("[data-testid=tpl-outside]").inner_text())
    for line in lines:
        for label, n in re.findall(r"\b([NSVFQ]) ([\d,]+)", line):
            added[label] = added.get(label, 0) + int(n.replace(",", ""))
    assert all(added.get(k, 0) == count(before, k) for k in "NSVFQ"), (added, before)
    assert "keeps its own label" in page.locator("#tpl-explain").inner_text()
    card.click()
    assert card.get_attribute("aria-checked") == "true"
    page.select_option("#tpl-label", "N")
    save_small(page, shots / "templates.png")
    page.locator("#tpl-apply").click()
    wait_js(page, "document.getElementById('tpl-status').textContent.includes('recomputed')", 120)
    # the Relabel button is disabled once the cards are drawn again: the focus is on the outcome instead
    assert page.evaluate("document.activeElement.id") == "tpl-status"
    wait_js(page, "document.getElementById('tpl-status').textContent.includes('rendered again as')", 120)
    assert "back on the physician's worklist" in page.locator("#tpl-status").inner_text()
    after = page.locator("[data-testid=beat-counts]").inner_text()
    assert count(after, "V") < count(before, "V") and count(after, "N") > count(before, "N"), (before, after)
    page.goto(f"/studies/{served.study_id}")
    v_row = page.locator("[data-testid=summary] tr", has_text="Total V beats").inner_text()
    assert v_row.split("\t")[-1].startswith(f"{count(after, 'V')} ("), v_row
    assert page.locator(".study-head [data-testid=changed-after-sending]").is_visible()
    assert not page.errors
    page.context.close()


def test_technician_chooses_the_report_strips(chromium: Any, served: Served) -> None:
    page = log_in(chromium, served, "tech.demo")
    page.goto(f"/studies/{served.study_id}/viewer?t=600")
    page.locator("#strip[data-drawn]").wait_for()
    page.locator("#add-strip").click()
    page.locator("#strip-form button[type=submit]").click()  # no caption: said next to the field
    assert "caption" in page.locator("#strip-error").inner_text().lower()
    page.fill("#strip-caption", "Sinus rhythm at rest, for comparison")
    page.locator("#strip-form button[type=submit]").click()
    wait_js(page, "document.getElementById('viewer-status').textContent.includes('added')")
    page.goto(f"/studies/{served.study_id}/strips")
    manual = page.locator("#strip-rows tr", has_text="Sinus rhythm at rest")
    manual.wait_for()
    first = page.locator("#strip-rows input[type=checkbox]").first
    first.uncheck()
    wait_js(page, "document.getElementById('strips-mode').textContent.includes('exactly')")
    answer = page.request.get(f"/api/v1/studies/{served.study_id}/strips").json()
    assert answer["customised"] and not answer["items"][0]["included"]
    assert any(i["kind"] == "manual" and i["included"] for i in answer["items"])
    page.goto(f"/studies/{served.study_id}/report")
    with page.expect_navigation(timeout=120_000):  # the page reloads once the report is rendered
        page.locator("#regenerate").click()
    page.locator("[data-testid=report-version]").wait_for()
    assert not page.errors
    page.context.close()


def test_technician_has_no_sign_button_and_the_server_refuses(chromium: Any, served: Served) -> None:
    page = log_in(chromium, served, "tech.demo")
    page.goto(f"/studies/{served.study_id}/report")
    page.locator("[data-testid=signature-state]").wait_for()
    assert page.locator("[data-testid=sign-button]").count() == 0
    answer = page.request.post(
        f"/api/v1/studies/{served.study_id}/sign",
        data={"password": PIN},
        headers={"X-CSRF-Token": csrf(page)},
    )
    assert answer.status == 403
    assert "study:sign" in answer.text()
    page.context.close()


def test_physician_signs_with_a_wrong_then_the_right_password(
    chromium: Any, served: Served, shots: Path
) -> None:
    page = log_in(chromium, served, "dr.demo")  # the technician relabelled after sending (tests above):
    page.locator(f"#wl-rows tr[data-href='/studies/{served.study_id}'] .badge.changed").wait_for()
    page.goto(f"/studies/{served.study_id}/report")
    assert "Changed after sending" in page.locator("[data-testid=sign-hint]").inner_text()
    saved = "Sinus rhythm with rare ventricular ectopy. No pauses. (Browser test.)"
    interpret(page, served.study_id, saved)
    # words typed after 'Save and review' are in no version: signing would sign the reviewed one without
    # them and the reload would lose them; the page says so, with the focus on the text, and opens no dialog
    page.fill("#interp", saved + " Refer to electrophysiology.")
    page.locator("[data-testid=sign-button]").click()
    page.locator("#interp-error").wait_for(state="visible")
    assert "not saved" in page.locator("#interp-error").inner_text()
    assert not page.locator("#sign-dialog").is_visible()
    assert page.evaluate("document.activeElement.id") == "interp"
    assert page.input_value("#interp").endswith("Refer to electrophysiology.")
    page.fill("#interp", saved)
    page.locator("[data-testid=sign-button]").click()
    dialog = page.locator("#sign-dialog")
    dialog.wait_for(state="visible")
    assert "Interpreted by Dana Demo, MD" in page.locator("#sign-meaning").inner_text()
    page.fill("#sign-password", "not-my-password")
    save_small(page, shots / "sign-dialog.png")
    page.locator("#sign-submit").click()
    error = page.locator("#sign-error")
    error.wait_for(state="visible")
    assert "Not signed" in error.inner_text() and "password" in error.inner_text()
    page.fill("#sign-password", PIN)
    page.locator("#sign-submit").click()
    page.locator(".signed-box").wait_for(timeout=120_000)
    state = page.locator("[data-testid=signature-state]").inner_text()
    assert "Interpreted by" in state and "Dana Demo, MD" in state and "signed 20" in state
    pdf = page.request.get(f"/api/v1/studies/{served.study_id}/report/preview.pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-report-signed"] == "true" and pdf.body().startswith(b"%PDF")
    assert page.locator("iframe#pdf").get_attribute("src", timeout=5000)
    assert not page.errors
    page.context.close()


def test_physician_reads_and_signs_a_resting_12_lead(chromium: Any, served: Served, shots: Path) -> None:
    page = log_in(chromium, served, "dr.demo")
    page.goto(f"/studies/{served.resting_id}")
    page.locator("#ecg12[data-drawn]").wait_for()
    # Every lead of the 3 x 4 layout and the rhythm strip drawn (the signal API served a resting run).
    assert page.locator("#ecg12").get_attribute("data-leads-drawn") == "13"
    assert not page.locator("#ecg12-error").is_visible()
    save_small(page, shots / "resting-12-lead.png")
    measured = page.locator("[data-testid=measurements]").inner_text()
    assert "Heart rate" in measured and "QT / QTc" in measured and "bpm" in measured
    interpret(page, served.resting_id, "Sinus rhythm. Normal ECG. (Browser test.)")
    page.locator("[data-testid=sign-button]").click()
    page.fill("#sign-password", PIN)
    page.locator("#sign-submit").click()
    page.locator(".signed-box").wait_for(timeout=120_000)
    assert "Interpreted by" in page.locator("[data-testid=signature-state]").inner_text()
    # A change after signing is an addendum, signed with the password; the page then shows each signature
    # with its name, time and meaning (21 CFR 11.50), not only the newest.
    assert not page.locator("#interp-form").count() and not page.locator("#sign-open").count()
    page.fill("#addendum-text", "Compared with the prior tracing: unchanged. (Browser test.)")
    page.fill("#addendum-password", "not-my-password")
    page.locator("#addendum-form button[type=submit]").click()
    page.locator("#addendum-error").wait_for(state="visible")
    # refused: the text stays, the emptied password field has the focus
    assert page.evaluate("document.activeElement.id") == "addendum-password"
    assert page.input_value("#addendum-text").startswith("Compared with the prior tracing")
    page.fill("#addendum-password", PIN)
    with page.expect_navigation(timeout=120_000):
        page.locator("#addendum-form button[type=submit]").click()
    signatures = page.locator("[data-testid=signatures] li").all_inner_texts()
    assert len(signatures) == 2, signatures
    assert signatures[0].startswith("Interpreted by Dana Demo, MD, 20") and " UTC, version " in signatures[0]
    assert signatures[1].startswith("Addendum by Dana Demo, MD, 20"), signatures
    assert "Dana Demo, MD" in page.locator(".addenda .sub").inner_text()
    assert not page.errors
    page.context.close()


def test_physician_reads_and_signs_a_stress_test(
    chromium: Any, served: Served, tmp_path: Path, shots: Path
) -> None:
    study_id = stress_study(served.store, tmp_path)
    page = log_in(chromium, served, "dr.demo")
    page.goto(f"/studies/{study_id}")
    measured = page.locator("[data-testid=measurements]").inner_text()
    assert "Duke treadmill score" in measured and "ischemic response" in measured, measured
    stages = page.locator("[data-testid=stages] tbody tr")
    assert stages.count() >= 3  # pretest, Bruce stages, recovery
    table = page.locator("[data-testid=stages]").inner_text()
    assert "mph" in table and "V5" in table, table
    assert page.locator("[data-testid=stages] td.st-dep").count() >= 1  # the ST depression is marked
    # the maximum in the summary is the deepest J+80 level of the stage table (same point, same lead)
    summary = page.locator("[data-testid=max-st]").inner_text()
    deepest, lead = summary.split(" mm at J+80 in ")[0], summary.split(" in ")[1].split()[0]
    header = page.locator("[data-testid=stages] thead th").all_inner_texts()
    column = header.index(lead)
    levels = [float(cells[column]) for cells in (
        row.locator("th, td").all_inner_texts() for row in stages.all()) if cells[column] != "—"]
    assert f"{-min(levels):.1f}" == deepest, (summary, levels)
    save_small(page, shots / "stress.png")
    interpret(page, study_id, "Positive for ischemia: 1.5 mm ST depression from stage 2. (Browser test.)")
    page.locator("[data-testid=sign-button]").click()
    page.fill("#sign-password", "not-my-password")
    page.locator("#sign-submit").click()
    page.locator("#sign-error").wait_for(state="visible")
    page.fill("#sign-password", PIN)
    page.locator("#sign-submit").click()
    page.locator(".signed-box").wait_for(timeout=120_000)
    assert "Interpreted by" in page.locator("[data-testid=signature-state]").inner_text()
    pdf = page.request.get(f"/api/v1/studies/{study_id}/report/preview.pdf")
    assert pdf.status == 200 and pdf.headers["x-report-signed"] == "true"
    assert not page.errors
    page.context.close()


def test_physician_signs_several_studies_with_one_password(
    chromium: Any, served: Served, tmp_path: Path, shots: Path
) -> None:
    """Batch signing: the reviewed studies listed, one password for the ticked ones (a wrong one signs
    nothing); a study whose report changed after the page was opened is named as not signed, with why."""
    from ecgdesk.workflow.reporting import interpret as review
    from ecgdesk.workflow.studies import set_technician_comments

    ids = [resting_study(served.store, tmp_path, f"Batch, Pat{i}", f"MRN-B{i}") for i in range(3)]
    for study_id in ids:
        review(served.store, study_id, "dr.demo", "Sinus rhythm. Normal ECG. (Browser batch test.)")
    page = log_in(chromium, served, "dr.demo")
    page.goto("/signing")
    for study_id in ids:
        assert page.locator(f"tr[data-study='{study_id}'] .state").inner_text() == "Ready"
    for study_id in ids:
        page.check(f"input[name=study][value='{study_id}']")
    page.locator("[data-testid=batch-sign]").click()
    page.locator("#batch-dialog").wait_for(state="visible")
    listed = page.locator("#batch-list li").all_inner_texts()
    assert listed == [f"Study {i}, Batch, Pat{n}" for n, i in enumerate(ids)], listed
    assert "Interpreted by Dana Demo, MD" in page.locator("#batch-meaning").inner_text()
    page.fill("#batch-password", "not-my-password")
    page.locator("#batch-submit").click()
    page.locator("#batch-error").wait_for(state="visible")
    assert "Nothing signed" in page.locator("#batch-error").inner_text()
    set_technician_comments(served.store, ids[2], "Lead V2 re-placed after the review.", "tech.demo")
    page.fill("#batch-password", PIN)
    save_small(page, shots / "signing.png")
    page.locator("#batch-submit").click()
    page.locator("#batch-result").wait_for(state="visible", timeout=120_000)
    assert page.locator("#batch-result").inner_text().startswith("2 signed, 1 not signed")
    for study_id in ids[:2]:
        assert page.locator(f"tr[data-study='{study_id}'] .state").inner_text().startswith(
            "Signed: Interpreted by Dana Demo, MD, 20")
    assert "changed since" in page.locator(f"tr[data-study='{ids[2]}'] .state").inner_text()
    # keyboard: the outcome has the focus (the opening button is disabled now), nothing is left to select
    assert page.evaluate("document.activeElement.id") == "batch-result"
    assert page.locator("input[name=study]").count() == 0 and page.is_disabled("#pick-all")
    assert not page.errors
    page.context.close()


def test_biller_codes_and_bills(chromium: Any, served: Served) -> None:
    page = log_in(chromium, served, "biller.demo")
    page.goto(f"/studies/{served.study_id}/billing")
    assert "yes" in page.locator("[data-testid=billing-facts]").inner_text()
    page.locator("#code-now").click()
    page.locator("[data-testid=billing-codes]").wait_for(timeout=60_000)
    assert page.locator("[data-testid=billing-codes] td.code").count() >= 1
    page.locator("#bill-form button").click()  # no reference: said in words
    assert "reference" in page.locator("#billing-error").inner_text()
    page.fill("#bill-reference", "CLM-2026-0001")
    page.locator("#bill-form button").click()
    page.locator("[data-testid=study-status]", has_text="billed").wait_for()
    page.context.close()


def test_administrator_manages_users_and_checks_the_audit_chain(chromium: Any, served: Served) -> None:
    page = log_in(chromium, served, "admin.demo")
    page.fill("#u-username", "dr.two")
    page.select_option("#u-role", "physician")
    page.fill("#u-password", "1357-1357")
    page.locator("#user-form button[type=submit]").click()
    npi_error = page.locator('#user-form .field-error[data-for="npi"]')
    npi_error.wait_for(state="visible")  # a physician needs an NPI: said next to the field
    page.fill("#u-npi", "1003000126")
    page.fill("#u-display", "Second Doctor, MD")
    page.locator("#user-form button[type=submit]").click()
    page.locator("tr[data-username='dr.two']").wait_for()
    # a reset password is confirmed in words (the dialog used to close without a word)
    page.locator("tr[data-username='dr.two'] button[data-act=password]").click()
    page.fill("#pw-new", "demo-2468-new")
    page.locator("#pw-form button[type=submit]").click()
    wait_js(page, "document.getElementById('users-status').textContent.includes('dr.two')")
    assert "sessions ended" in page.locator("#users-status").inner_text()
    # Each change reloads the page once saved: wait for that reload, not for a load state already reached.
    with page.expect_navigation():
        page.select_option("tr[data-username='dr.two'] select", "technician")
    with page.expect_navigation():
        page.locator("tr[data-username='dr.two'] button[data-act=disable]").click()
    page.locator("tr[data-username='dr.two'] button[data-act=enable]").wait_for()
    # This test's own changes, so that it does not depend on the order the tests run in.
    page.goto("/admin/audit?user=admin.demo&action=user:disable")
    assert "user:disable" in page.locator("table.audit tbody").inner_text()
    page.goto("/admin/audit?user=admin.demo&action=user:role")  # the prior role beside the new one
    assert "physician" in page.locator("td.before").first.inner_text()
    assert "technician" in page.locator("td.after").first.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert exported[0].startswith("seq,at,actor,action") and "user:role" in exported[1]
    # Any operation can be looked for by its name or beginning (here the export just made), with the form.
    page.fill("#f-action", "read:audit-exp")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert "read:audit-export" in page.locator("table.audit tbody tr").first.inner_text()
    page.locator("#verify").click()
    wait_js(page, "document.getElementById('verify-result').textContent.startsWith('Intact')")
    page.context.close()


def test_technician_uploads_a_recording_with_progress(
    chromium: Any, served: Served, tmp_path: Path, shots: Path
) -> None:
    from ecgdesk.records import write_recording
    from ecgdesk.workflow.demo import synthetic_recording

    header = write_recording(synthetic_recording(3.0, seed=5), tmp_path, "wfdb", "upl")
    files = sorted(str(p) for p in tmp_path.iterdir() if p.stem == header.stem)
    page = log_in(chromium, served, "tech.demo")
    page.goto("/upload")
    page.locator("#upload-submit").click()  # nothing filled in: each field says what it needs
    assert page.locator('.field-error[data-for="patient_id"]').is_visible()
    page.fill("#patient_id", "MRN-30001")
    assert not page.locator('.field-error[data-for="patient_id"]').is_visible()  # filled: not "required"
    assert page.locator('.field-error[data-for="name"]').is_visible()  # not yet filled
    page.fill("#name", "Alvarez, <b>Rosa</b>")
    page.fill("#birth_date", "1959-02-03")
    page.fill("#ordering_npi", "1245319599")
    page.fill("#indications", "R00.2, R55")
    page.select_option("#priority", "stat")
    page.set_input_files("#files", files)
    save_small(page, shots / "upload.png")
    page.locator("#upload-submit").click()
    page.locator("#up-done").wait_for(timeout=120_000)
    assert page.locator("[data-testid=upload-progress]").get_attribute("value") == "1"
    assert "done" in page.locator("#bg-text").inner_text()
    page.locator("#up-link").click()
    assert page.locator("[data-testid=patient-name]").inner_text() == "Alvarez, <b>Rosa</b>"  # escaped
    assert page.locator("[data-testid=order-priority]").inner_text().lower() == "stat"
    save_small(page, shots / "study-stat.png")
    study_path = page.url.split(served.url, 1)[-1].split("?")[0]
    page.goto("/worklist")  # the only STAT study: first of the technician's work, flagged
    first = page.locator("#wl-rows tr[data-href]").first
    first.wait_for()
    assert first.get_attribute("data-href") == study_path
    assert first.locator("[data-testid=order-priority]").inner_text().lower() == "stat"
    save_small(page, shots / "worklist-stat.png")
    page.context.close()


def test_technician_uploads_the_recording_of_an_ordered_study(
    chromium: Any, served: Served, tmp_path: Path
) -> None:
    """An order on the worklist (as an HL7 order brings it) had no way to take its recording: its page said
    "No recording yet." and nothing else, and the new-study page's refusal sent the user to "upload again from
    the study page", which had no such control. The page now takes the files with a progress bar; a file
    that is not a recording is refused with the reader's reason next to the form, which stays."""
    from ecgdesk.records import write_recording
    from ecgdesk.store.models import Patient, Study
    from ecgdesk.workflow.demo import synthetic_recording

    with served.store.transaction() as session:
        ordered = select(Study.id).join(Patient, Study.patient_id == Patient.id)
        study_id = session.scalars(ordered.where(Patient.external_id == "MRN-20457")).one()
    header = write_recording(synthetic_recording(2.0, seed=7), tmp_path, "wfdb", "ord")
    files = sorted(str(p) for p in tmp_path.iterdir() if p.stem == header.stem)
    (tmp_path / "notes.txt").write_text("not an ECG")
    page = log_in(chromium, served, "tech.demo")
    page.goto(f"/studies/{study_id}")
    page.locator("#recording-submit").click()  # no file chosen: said next to the form
    assert "Choose the recording" in page.locator("#recording-error").inner_text()
    page.set_input_files("#recording-files", [str(tmp_path / "notes.txt")])
    page.locator("#recording-submit").click()
    error = page.locator("#recording-error")
    error.wait_for()
    assert "notes.txt" in error.inner_text(), error.inner_text()  # the file and the reader's reason
    page.set_input_files("#recording-files", files)
    with page.expect_navigation(timeout=120_000):  # the page follows import and analysis, then reloads
        page.locator("#recording-submit").click()
    page.locator("#trend[data-drawn='1']").wait_for(timeout=60_000)
    assert page.locator("#recording-form").count() == 0
    assert page.errors == []
    page.context.close()
