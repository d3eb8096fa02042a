"""The biller's claims work in a real browser (Debian's Chromium driven by Playwright) against the demo
database served by uvicorn: the biller codes the signed demo study, creates and exports its claim (by
keyboard), downloads the 837P, posts the payer's 277CA, is told in words why a truncated 835 is refused,
posts the 835 that denies a line, sees the states with who and when, the CARC/RARC on the line, the
remittance and the denial item, then works the item from the claims desk (denial queue, A/R aging). A
technician is refused the desk and the claim routes.

Screenshot: docs/screenshots/billing.png with ECGDESK_SCREENSHOTS=1 (else a temporary folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_builders import (
    Served,
    cheap_password_hashing,
    launched_chromium,
    need_browser,
    open_logged_in,
    save_small,
    serve_demo,
    shots_folder,
)

from ecgdesk.workflow.claims_demo import simulate_payer
from ecgdesk.workflow.demo import DEMO_PIN
from ecgdesk.workflow.reporting import interpret, sign

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_browser()
    with cheap_password_hashing():
        for ready in serve_demo(tmp_path_factory.mktemp("billing")):
            interpret(ready.store, ready.study_id, "dr.demo", "Sinus rhythm. No arrhythmia.")
            sign(ready.store, ready.study_id, "dr.demo", DEMO_PIN)
            yield ready


@pytest.fixture(scope="module")
def chromium(served: Served) -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


def _status(page: Any) -> str:
    return str(page.locator("[data-testid=claim-status]").first.inner_text()).strip()


def _post_payer_file(page: Any, path: Path, kind: str) -> None:
    page.select_option("#payer-file-kind", kind)
    page.set_input_files("#payer-file", str(path))
    page.click("#payer-file-form button[type=submit]")


def test_biller_claims_exports_posts_and_works_the_denial(
    chromium: Any, served: Served, tmp_path: Path
) -> None:
    page = open_logged_in(chromium, served.url, "biller.demo")
    page.goto(f"/studies/{served.study_id}/billing")
    # a distinct-service mark refused is said under its own form, not in the codes panel
    page.fill("#distinct-reason", "ECG at a separate visit")
    page.click("#distinct-form button[type=submit]")
    refused = page.locator("#distinct-error")
    refused.wait_for()
    assert "modifier" in refused.inner_text() and refused.is_visible()
    assert page.locator("#billing-error").is_hidden()
    assert page.locator("[data-testid=billing-distinct]").inner_text() == "not marked"
    page.click("#code-now")
    page.locator("#claim-create").wait_for()
    page.click("#claim-create")
    page.locator("[data-testid=claim]").wait_for()
    assert _status(page) == "scrubbed", page.locator("[data-testid=claim]").inner_text()
    claim_id = page.locator("[data-testid=claim]").get_attribute("data-claim")

    # a refused claim action says why next to its claim (before, claims.js looked for the message box
    # inside the button itself, which carries data-claim too, so nothing was shown)
    refusal = {"detail": [{"loc": ["status"], "msg": "refused for this test", "type": "ConflictError"}]}
    page.route("**/api/v1/claims/export", lambda route: route.fulfill(status=409, json=refusal))
    page.click(".claim-export")
    page.locator("[data-testid=claim] .claim-error:text('refused for this test')").wait_for()
    page.unroute("**/api/v1/claims/export")

    page.focus(".claim-export")  # the biller's hands stay on the keyboard
    page.keyboard.press("Enter")
    page.locator("[data-testid=download-837p]").wait_for()
    assert _status(page) == "exported"
    with page.expect_download() as fetched:
        page.click("[data-testid=download-837p]")
    download = fetched.value
    exported = served.home / "claims" / "out" / download.suggested_filename
    assert Path(download.path()).read_bytes() == exported.read_bytes()
    assert exported.read_text().startswith("ISA*") and f"CLM*{claim_id}*" in exported.read_text()

    code = page.locator("[data-testid=claim-lines] td.code").first.inner_text().split("-")[0].split(" ")[0]
    files = simulate_payer(served.store, exported, tmp_path / "payer", "test", deny=(code,))
    _post_payer_file(page, files.ack277, "ack")
    page.locator("[data-testid=claim-status]:text('accepted')").wait_for()

    broken = tmp_path / "truncated.835"
    broken.write_text(files.remit835.read_text()[:400])
    _post_payer_file(page, broken, "835")
    error = page.locator("#payer-file-error")
    error.wait_for()
    assert "truncated.835" in error.inner_text() and error.is_visible()
    assert _status(page) == "accepted"  # nothing posted

    _post_payer_file(page, files.remit835, "835")
    page.locator("[data-testid=claim-status]:text('denied')").wait_for()
    lines = page.locator("[data-testid=claim-lines]").inner_text()
    assert "CO-50 N115" in lines
    assert "Remittances" in page.locator("[data-testid=claim-remittances]").inner_text()
    history = page.locator("[data-testid=claim-history]").inner_text()
    for state in ("scrubbed", "exported", "accepted", "denied"):
        assert state in history
    assert "biller.demo" in history
    items = page.locator("[data-testid=denial-items]").inner_text()
    assert "necessity" in items and "appeal" in items
    assert page.errors == []
    page.evaluate("() => window.scrollTo(0, 0)")
    save_small(page, shots_folder(tmp_path) / "billing.png")

    page.click("nav >> text=Claims")
    page.wait_for_url("**/claims")
    assert claim_id in page.locator("[data-testid=denial-items]").inner_text()
    aging = page.locator("[data-testid=ar-aging]").inner_text()
    assert "DEMOMAC" in aging and "0-30" in aging
    form = page.locator(".work-form").first
    form.locator("select").select_option("appeal")
    form.locator("input[name=note]").fill("Indication R00.2 documented in the signed report.")
    form.locator("button").click()
    page.locator("[data-testid=denial-items] >> text=No open denial items.").wait_for()
    page.goto(f"/studies/{served.study_id}/billing")
    assert _status(page) == "appealed"
    assert "by biller.demo" in page.locator("[data-testid=denial-items]").inner_text()
    assert page.errors == []
    page.context.close()


def test_technician_is_refused_the_claims(chromium: Any, served: Served) -> None:
    page = open_logged_in(chromium, served.url, "tech.demo")
    assert page.locator("nav >> text=Claims").count() == 0
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    assert csrf
    answer = page.goto("/claims")
    assert answer is not None and answer.status == 403
    refused = page.request.post(
        "/api/v1/claims", data={"study_id": served.study_id}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status == 403
    assert page.request.get(f"/api/v1/studies/{served.study_id}/claims").status == 403
    page.context.close()
