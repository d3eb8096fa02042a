"""A user changes their own password in a real browser (Chromium through Playwright) on a small server: the
header's link, a wrong current password said next to its field, then the change; the page keeps working on
the renewed session (its CSRF token replaced), and the new password logs in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_builders import launched_chromium, need_browser, open_logged_in
from service_builders import PIN, POLICY, add_people

from backends import make_store
from ecgdesk.service import create_app
from ecgdesk.service.local import serve_in_thread
from ecgdesk.service.settings import ServiceSettings

pytestmark = pytest.mark.browser


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    need_browser()
    store = make_store(tmp_path, "sqlite")
    add_people(store)
    try:
        with serve_in_thread(create_app(store, ServiceSettings(policy=POLICY))) as url:
            yield url
    finally:
        store.close()


def _wait_cleared(page: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while page.input_value("#current-password"):
        assert time.monotonic() < deadline, "no answer to the password change"
        time.sleep(0.05)


def test_a_user_changes_their_password_on_its_page(served: str) -> None:
    with launched_chromium() as chromium:
        page: Any = open_logged_in(chromium, served, "tech.t")
        before = page.get_attribute('meta[name="csrf-token"]', "content")
        page.click("text=Change password")
        page.wait_for_url("**/account/password")
        page.fill("#current-password", "1111-1111")
        page.fill("#new-password", "97531-new")
        page.fill("#repeat-password", "97531-new")
        page.click("#password-form button[type=submit]")
        wrong = page.locator('.field-error[data-for="current_password"]')
        wrong.wait_for(state="visible")
        assert "not accepted" in wrong.inner_text() and "/account/password" in page.url  # still logged in
        # the field is marked and names its message, so a screen reader says why when the focus lands on it
        assert page.evaluate("document.activeElement.id") == "current-password"
        assert page.get_attribute("#current-password", "aria-invalid") == "true"
        said = page.get_attribute("#current-password", "aria-describedby")
        assert "not accepted" in page.locator(f"#{said}").inner_text()
        page.fill("#current-password", PIN)
        page.click("#password-form button[type=submit]")
        page.locator("#password-done").wait_for(state="visible")
        assert "password is changed" in page.locator("#password-done").inner_text()
        after = page.get_attribute('meta[name="csrf-token"]', "content")
        assert after and after != before
        # a further change from the same page goes through with the renewed session's token
        page.fill("#current-password", "97531-new")
        page.fill("#new-password", "86420-new")
        page.fill("#repeat-password", "86420-new")
        page.click("#password-form button[type=submit]")
        _wait_cleared(page)  # the script empties the current password when the answer came
        page.locator("#password-done").wait_for(state="visible")
        assert page.errors == []
        page.context.close()
        again = open_logged_in(chromium, served, "tech.t", "86420-new")
        assert "/worklist" in again.url
        again.context.close()
