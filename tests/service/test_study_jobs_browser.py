"""The study page's background jobs in a real browser (Chromium through Playwright): the Cancel button
cancels a queued job (the row's state follows, the button is disabled, the job is cancelled and audited),
and for a job that ended meanwhile it says why nothing was cancelled; "Analyse again" follows its job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_builders import launched_chromium, need_browser, open_logged_in
from service_builders import POLICY, STUDY, add_people
from sqlalchemy import select

from backends import make_store
from ecgdesk.jobs.queue import JobSpec, enqueue
from ecgdesk.service import create_app
from ecgdesk.service.local import serve_in_thread
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store
from ecgdesk.store.jobs_models import Job
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.schemas import StudyCreate
from ecgdesk.workflow.studies import create_study_from

pytestmark = pytest.mark.browser


def _queued(store: Store, study_id: int, n: int) -> int:
    spec = JobSpec("analysis.study", {"study_id": study_id}, f"probe-{n}", "probe", study_id=study_id)
    with store.transaction() as session:
        job, _ = enqueue(session, spec, "tech.t")
        session.flush()
        return int(job.id)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Store, int, list[int]]]:
    need_browser()
    store = make_store(tmp_path, "sqlite")
    add_people(store)
    study_id = create_study_from(store, StudyCreate.model_validate(STUDY), "tech.t")
    jobs = [_queued(store, study_id, n) for n in (1, 2)]  # no worker runs here: they stay queued
    try:  # a service that only queues (one running its jobs inline runs those it finds when it starts)
        with serve_in_thread(create_app(store, ServiceSettings(policy=POLICY, jobs="queue"))) as url:
            yield url, store, study_id, jobs
    finally:
        store.close()


def test_the_cancel_button_cancels_a_queued_job_and_says_why_it_cannot(
    served: tuple[str, Store, int, list[int]],
) -> None:
    url, store, study_id, (first, second) = served
    with launched_chromium() as chromium:
        page: Any = open_logged_in(chromium, url, "tech.t")
        page.goto(f"{url}/studies/{study_id}")
        row = page.locator(f'tr[data-job="{first}"]')
        row.locator("button.job-cancel").click()
        row.locator("text=Cancelled.").wait_for()
        assert row.locator(".job-state").inner_text().strip() == "cancelled"
        assert row.locator("button.job-cancel").is_disabled()
        with store.transaction() as session:
            done = session.get(Job, second)
            assert done is not None
            done.status = "done"  # it ended after the page was drawn
        other = page.locator(f'tr[data-job="{second}"]')
        other.locator("button.job-cancel").click()
        other.locator("text=nothing to cancel").wait_for()
        assert other.locator(".job-state").inner_text().strip() == "queued"  # as drawn: not said cancelled
        assert page.errors == []
    with store.transaction() as session:
        assert session.get(Job, first).status == "cancelled"  # type: ignore[union-attr]
        audited = session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "job:cancelled"))
        assert [str(e) for e in audited] == [str(first)]


def test_analyse_again_follows_its_job_and_shows_the_new_analysis(
    tmp_path: Path, tiny_files: list[Path]
) -> None:
    """The study page's "Analyse again" said "Analysis started in the background." and nothing more: for
    a multi-day recording, minutes with no progress and no end. The page follows the job now (its state and
    progress, next to the button) and shows the new analysis once the job is done."""
    from ecgdesk.workflow.analysis import analyze_study
    from ecgdesk.workflow.jobs import run_chain
    from ecgdesk.workflow.studies import import_recording

    need_browser()
    store = make_store(tmp_path, "sqlite")
    add_people(store)
    study_id = create_study_from(store, StudyCreate.model_validate(STUDY), "tech.t")
    import_recording(store, study_id, next(p for p in tiny_files if p.suffix == ".hea"), "tech.t")
    analyze_study(store, study_id, "tech.t")
    try:  # a service that only queues: the test is the worker, once the page shows the job queued
        with serve_in_thread(create_app(store, ServiceSettings(policy=POLICY, jobs="queue"))) as url, \
                launched_chromium() as chromium:
            page: Any = open_logged_in(chromium, url, "tech.t")
            page.goto(f"{url}/studies/{study_id}")
            page.locator("#reanalyze").click()
            said = page.locator("#reanalyze-status")
            said.locator("text=queued").wait_for()
            with store.transaction() as session:
                job = session.scalars(select(Job).where(Job.kind == "analysis.study")).one()
            assert said.inner_text() == f"Analysis (job {job.id}): queued, 0 %"
            with page.expect_navigation():  # the page is drawn again with the new analysis
                assert run_chain(store, job.id).status == "done"
            assert page.locator(f'tr[data-job="{job.id}"] .job-state').inner_text().strip() == "done"
            assert page.errors == []
    finally:
        store.close()
