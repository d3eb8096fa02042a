"""The attended-monitoring queue screen in a real browser (Debian's Chromium driven by Playwright): strips
of one enrolled patient arrive and are classified; the technician sees them most pressing first with the
counts per priority, opens the first, records the physician notification and closes it; the list and the
counts follow. A biller has neither the link nor the page."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from browser_builders import (
    PIN,
    cheap_password_hashing,
    launched_chromium,
    need_browser,
    open_logged_in,
    save_small,
    shots_folder,
)
from service_builders import add_people
from sqlalchemy import select

from ecgdesk.coding import Service
from ecgdesk.service import create_app
from ecgdesk.service.local import serve_in_thread
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import open_store
from ecgdesk.store.models import AuditEntry
from ecgdesk.store.monitoring_models import Notification
from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, ingest_file
from ecgdesk.workflow.monitoring_queue import acknowledge
from ecgdesk.workflow.policy import SecurityPolicy

pytestmark = pytest.mark.browser
ORDERING_NPI = "1245319599"
RANK = {"emergent": 0, "urgent": 1, "unreadable": 2, "routine": 3}
#: Pixels of the strip canvas by colour: the trace (near black) and the pink paper grid.
STRIP_INK = """() => {
  const c = document.getElementById('mq-strip');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let trace = 0, grid = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] < 80 && d[i + 1] < 80 && d[i + 2] < 80) trace++;
    else if (d[i] > 200 && d[i + 1] < 225 && d[i + 2] < 225 && d[i] - d[i + 1] > 20) grid++;
  }
  return {trace, grid, height: c.clientHeight};
}"""


def _strip_builder() -> Any:
    """tests/workflow/monitoring_builders.py (strips cut around simulated events), loaded by its path."""
    path = Path(__file__).resolve().parents[1] / "workflow" / "monitoring_builders.py"
    spec = importlib.util.spec_from_file_location("ecgdesk_tests_monitoring_builders", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@dataclass
class Queue:
    url: str
    priorities: list[str]
    store: Any


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    need_browser()
    folder = tmp_path_factory.mktemp("monitoring")
    with cheap_password_hashing():
        store = open_store(url=f"sqlite:///{folder / 'db.sqlite'}", home=folder / "home")
        add_people(store)
        strips = _strip_builder().make_strips(folder)
        request = EnrolmentRequest(
            "MRN-EM1",
            "Quinn, Ada",
            date(1950, 2, 3),
            "F",
            "EM-0042",
            Service.EVENT_MONITOR,
            date(2026, 12, 1),
            ORDERING_NPI,
            ("R00.2",),
        )
        enroll(store, request, "tech.t")
        outcomes = [
            ingest_file(store, path, "EM-0042", "tech.t", message_id=path.stem)
            for path in (strips.normal, strips.pause, strips.flat)
        ]
        assert all(o.status == "queued" for o in outcomes), outcomes
        from ecgdesk.workflow.monitoring_queue import list_queue

        priorities = [row.priority for row in list_queue(store)]
        policy = SecurityPolicy(idle_s=900, absolute_s=3600, lockout_attempts=5, lockout_s=60, touch_s=0)
        app = create_app(store, ServiceSettings(policy=policy))
        try:
            with serve_in_thread(app) as url:
                yield Queue(url, priorities, store)
        finally:
            store.close()


@pytest.fixture(scope="module")
def chromium(served: Queue) -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


def log_in(chromium: Any, served: Queue, username: str, password: str = PIN) -> Any:
    return open_logged_in(chromium, served.url, username, password)


def _counts(page: Any) -> dict[str, int]:
    return {
        name: int(page.locator(f'[data-count="{name}"]').inner_text())
        for name in ("emergent", "urgent", "routine", "unreadable", "overdue")
    }


def test_technician_works_the_most_pressing_strip_first(chromium: Any, served: Queue, tmp_path: Path) -> None:
    page = log_in(chromium, served, "tech.t")
    page.click("nav >> text=Monitoring")
    page.wait_for_url("**/monitoring")
    rows = page.locator("#mq-rows tr[data-id]")
    rows.first.wait_for()
    assert rows.count() == 3
    shown = [rows.nth(i).locator(".badge").inner_text() for i in range(3)]
    assert shown == sorted(shown, key=RANK.__getitem__)  # most pressing first
    assert sorted(shown) == sorted(served.priorities)
    counts = _counts(page)
    # every time on the screen names its zone: the "updated" clock UTC (it was the browser's local time),
    # a strip's received and due times the patient's clock (UTC until 2026-12-07; this enrolment: UTC)
    assert re.search(r"updated \d\d:\d\d:\d\d UTC$", page.locator("#mq-updated").inner_text())
    assert "Received (patient's clock)" in str(page.locator("#mq-table thead").text_content())
    received = rows.first.locator("td.when").first.inner_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", received), received
    assert sum(counts[p] for p in RANK) == 3 and counts["unreadable"] >= 1  # the flat line needs a person
    first_id = rows.first.get_attribute("data-id")
    rows.first.focus()
    page.keyboard.press("Enter")  # keyboard: the focused row opens
    page.locator("#mq-item").wait_for(state="visible")
    assert page.locator("#mq-item-id").inner_text() == first_id
    status = page.locator("#mq-strip-status")
    page.locator("#mq-strip-status", has_text="Beats:").wait_for()
    assert "labelled by the ecgdesk ambulatory beat classifier" in status.inner_text()
    assert page.locator("#mq-item-why").inner_text().startswith("Classifier: ")
    assert page.locator("#mq-criteria tbody tr").count() >= 5  # the patient's criteria in force
    assert page.locator("#mq-criteria tbody tr.fired").count() >= 1  # the rule that set the priority
    assert page.locator("#mq-recent tbody tr").count() == 2  # the patient's two other strips
    facts = str(page.locator("#mq-item-facts").text_content())
    assert re.search(r"Received\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC\)", facts), facts
    assert page.locator("#mq-rhythm").input_value() != ""  # the classifier's rhythm, to confirm or change
    ink = page.evaluate(STRIP_INK)
    assert ink["height"] >= 2 * 100 and ink["trace"] > 2000 and ink["grid"] > 5000, ink
    save_small(page, shots_folder(tmp_path) / "monitoring.png")
    page.keyboard.press("Escape")  # closes the item, the row has the focus again
    page.locator("#mq-item").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.dataset.id") == first_id
    rows.first.click()
    page.locator("#mq-item").wait_for(state="visible")
    page.locator("#mq-strip-status", has_text="Beats:").wait_for()
    page.fill("#mq-rhythm", "sinus pause")
    page.check('input[name="action"][value="notified"]')
    page.locator("#mq-notice").wait_for(state="visible")
    page.click("#mq-review button[type=submit]")  # no recipient: said once, by its field (focused)
    page.locator('.field-error[data-for="recipient"]', has_text="who was called").wait_for()
    assert page.locator("#mq-review-error").is_hidden()  # it said the same again under the form
    assert page.evaluate("document.activeElement.id") == "mq-recipient"
    page.fill("#mq-recipient", "Dr Order (ordering physician)")
    page.check('input[name="read_back"]')
    assert page.locator("#mq-tier").input_value() == ""  # by default the item's priority applies
    page.select_option("#mq-tier", "emergent")  # the technician read a VT run the classifier missed
    page.fill("#mq-note", "Pause strip phoned through; physician will see the patient today.")
    page.click("#mq-review button[type=submit]")
    page.wait_for_selector(f'#mq-rows tr[data-id="{first_id}"]', state="detached")
    assert "closed (notified)" in page.locator("#mq-saved").inner_text()
    with served.store.transaction() as session:
        tiers = session.scalars(select(Notification.tier).where(Notification.queue_item_id == int(first_id)))
        assert list(tiers) == ["emergent"]
    assert page.locator("#mq-rows tr[data-id]").count() == 2
    assert sum(_counts(page)[p] for p in RANK) == 2
    _record_the_call_back(page, served, int(first_id))
    rows.first.click()  # the closed strip is in the patient's history, with the rhythm as read
    page.locator("#mq-recent", has_text="sinus pause").wait_for()
    assert page.locator("#mq-item [data-ack-status]").inner_text() == ""  # it was about the other item
    assert "Pause strip phoned through" in page.locator("#mq-recent").inner_text()
    assert page.errors == []
    page.context.close()


def _record_the_call_back(page: Any, served: Queue, item_id: int) -> None:
    """The physician called back: the technician records it on the page (until 2026-12-08 only the API and
    `monitor ack` could), from the notice waiting for an answer, in the closed item's panel; a colleague
    at another workstation records it first, and the page says so (until 2026-12-08 it just refreshed,
    showing the other name, the outcome typed here dropped unsaid)."""
    waiting = page.locator("#mq-waiting tr[data-notice]")
    waiting.first.wait_for()
    assert waiting.count() == 1 and "Dr Order" in waiting.first.inner_text()
    waiting.first.locator("button", has_text=f"item {item_id}").click()
    page.locator("#mq-item-closed", has_text="Closed (notified)").wait_for()
    assert page.locator("#mq-review").is_hidden()  # a closed item is not closed again
    notice = page.locator("#mq-notices tbody tr")
    assert notice.count() == 1 and "by tech.t" in notice.inner_text()
    notice.locator('input[name="outcome"]').fill("Dr Order called back: sees the patient at 14:00")
    with served.store.transaction() as session:
        (notice_id,) = session.scalars(select(Notification.id).where(Notification.queue_item_id == item_id))
    acknowledge(served.store, notice_id, "dr.t", "seen in clinic")  # the other workstation, first
    notice.locator("button", has_text="Acknowledge").click()
    said = page.locator("#mq-item [data-ack-status]")
    said.filter(has_text=f"Notification {notice_id} had already been acknowledged by dr.t").wait_for()
    assert "your outcome was not recorded" in said.inner_text()
    page.locator("#mq-notices tbody tr", has_text=re.compile(r"\d\d:\d\d UTC by dr\.t$")).wait_for()
    page.locator("#mq-waiting", has_text="No notification is waiting").wait_for()
    with served.store.transaction() as session:
        (row,) = session.scalars(select(Notification).where(Notification.queue_item_id == item_id))
        assert row.acknowledged_at is not None and row.outcome == "seen in clinic"
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "monitor:acknowledge"))
        assert list(actors) == ["dr.t"]


def test_biller_has_no_queue(chromium: Any, served: Queue) -> None:
    page = log_in(chromium, served, "biller.t")
    assert page.locator("nav >> text=Monitoring").count() == 0
    answer = page.goto("/monitoring")
    assert answer is not None and answer.status == 403
    page.context.close()


def test_the_administrator_changes_the_escalation_minutes_on_the_settings_page(
    chromium: Any, served: Queue
) -> None:
    """Rule 9's N on the settings page (its Save is the page's script): nonsense is refused next to the
    setting, a number is saved and shown with who changed it, and Default sets it back."""
    page = log_in(chromium, served, "admin.t")
    page.get_by_role("link", name="Settings").click()
    page.fill("#value-escalate_urgent_minutes", "0")
    page.locator("form[data-name=escalate_urgent_minutes] button").click()
    page.locator("#error-escalate_urgent_minutes").wait_for(state="visible")
    assert "from 1 to 1440" in page.locator("#error-escalate_urgent_minutes").inner_text()
    page.fill("#value-escalate_urgent_minutes", "45")
    with page.expect_navigation():
        page.locator("form[data-name=escalate_urgent_minutes] button").click()
    row = page.locator("tr[data-setting=escalate_urgent_minutes]")
    assert page.locator("#value-escalate_urgent_minutes").input_value() == "45"
    assert "admin.t" in row.inner_text()
    with page.expect_navigation():  # Default: back to the packaged 60 minutes
        row.locator("button.setting-default").click()
    assert page.locator("#value-escalate_urgent_minutes").input_value() == "60"
    page.context.close()


def test_the_queue_screen_shows_one_page_and_counts_the_whole_queue(
    chromium: Any, served: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One item a page: the rows are one page, the counts are of every open item, Next and Previous move
    through the queue (the screen read the first 500 items and counted only those); a page past the end says
    the queue still has open strips and leads back to its last page (it said every strip was reviewed)."""
    from ecgdesk.service.routers import monitoring_pages
    from ecgdesk.workflow.monitoring_queue import list_queue

    monkeypatch.setattr(monitoring_pages, "QUEUE_PAGE", 1)
    ids = [str(row.id) for row in list_queue(served.store)]
    assert len(ids) >= 2  # (the first test closed one of the three)
    page = log_in(chromium, served, "tech.t")
    page.goto("/monitoring")
    rows = page.locator("#mq-rows tr[data-id]")
    rows.first.wait_for()
    assert rows.count() == 1 and rows.first.get_attribute("data-id") == ids[0]
    assert sum(_counts(page)[p] for p in RANK) == len(ids)
    assert page.locator("#mq-rows-of").inner_text() == f"Items 1–1 of {len(ids)}"
    assert page.locator("#mq-prev").is_hidden()
    page.click("#mq-next")
    page.wait_for_url("**/monitoring?offset=1")
    page.locator(f'#mq-rows tr[data-id="{ids[1]}"]').wait_for()
    assert rows.count() == 1 and sum(_counts(page)[p] for p in RANK) == len(ids)
    page.click("#mq-prev")
    page.wait_for_url(lambda url: url.endswith("/monitoring"))
    page.locator(f'#mq-rows tr[data-id="{ids[0]}"]').wait_for()
    # past the end (a link kept while strips were closed): open strips are not said to be all reviewed, and
    # Previous leads to the last page that has some
    page.goto(f"/monitoring?offset={len(ids) + 5}")
    page.locator("#mq-rows td.empty", has_text="No open strips").wait_for()  # (after "Loading…")
    assert page.locator("#mq-rows td.empty").inner_text() == (
        f"No open strips on this page: {len(ids)} open in the queue, on the earlier pages."
    )
    told = page.locator("#mq-rows-of").inner_text()
    assert told == f"No items from item {len(ids) + 6} on: the queue has {len(ids)}"
    page.click("#mq-prev")
    page.wait_for_url(f"**/monitoring?offset={len(ids) - 1}")
    page.locator(f'#mq-rows tr[data-id="{ids[-1]}"]').wait_for()
    assert page.errors == []
    page.context.close()
