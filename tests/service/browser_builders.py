"""The real-browser harness of the workstation tests: the demo database served by uvicorn on loopback and
Debian's Chromium driven by Playwright (no browser download: ``executable_path``).

Skips with the reason where Chromium or Playwright cannot be had (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ecgdesk.coding import Service
from ecgdesk.service import create_app
from ecgdesk.service.local import CHROMIUM_ARGS, serve_in_thread
from ecgdesk.service.settings import ServiceSettings
from ecgdesk.store import Store, open_store
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.studies import StudyRequest, create_study, import_recording

CHROMIUM = os.environ.get("ECGDESK_CHROMIUM", "/usr/bin/chromium")
PIN = "demo-2468"
VIEWPORT = {"width": 1366, "height": 768}
#: Where the suite writes its screenshots: docs/screenshots when ECGDESK_SCREENSHOTS=1 (to refresh the
#: committed ones), else a temporary folder.
SHOTS_ENV = "ECGDESK_SCREENSHOTS"
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def need_browser() -> Any:
    """The Playwright sync API, or skip saying what is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs the playwright package (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    return sync_playwright


@dataclass
class Served:
    url: str
    store: Store
    study_id: int
    home: Path
    resting_id: int


def _more_studies(store: Store) -> None:
    """A few more orders on the worklist, as a working day has them (no recordings yet)."""
    people = [
        ("MRN-20431", "Okafor, Grace", date(1948, 7, 2), "F", Service.AMBULATORY_ECG, 14.0),
        ("MRN-20457", "Lindqvist, Erik", date(1961, 11, 19), "M", Service.AMBULATORY_ECG, 2.0),
    ]
    for pid, name, born, sex, service, days in people:
        create_study(
            store,
            StudyRequest(
                patient_id=pid,
                name=name,
                birth_date=born,
                sex=sex,
                service=service,
                ordering_npi="1245319599",
                indications=("R00.2",),
                duration_days=days,
                ordering_name="Oliver Order, MD",
            ),
            actor="tech.demo",
        )


def resting_study(
    store: Store, folder: Path, name: str = "Tanaka, Hiro", patient_id: str = "MRN-20502"
) -> int:
    """A resting 12-lead study (pydicom's real 12-lead ECG), analysed and reported."""
    from pydicom.data import get_testdata_file

    from ecgdesk.workflow.ecg_services import analyze_ecg_study
    from ecgdesk.workflow.reporting import report_study

    request = StudyRequest(
        patient_id=patient_id,
        name=name,
        birth_date=date(1972, 4, 8),
        sex="M",
        service=Service.RESTING_ECG,
        ordering_npi="1245319599",
        indications=("R00.2",),
        ordering_name="Oliver Order, MD",
    )
    study_id = create_study(store, request, actor="tech.demo")
    import_recording(store, study_id, Path(get_testdata_file("waveform_ecg.dcm")), actor="tech.demo")
    analyze_ecg_study(store, study_id, "tech.demo")
    report_study(store, study_id, "tech.demo")
    return study_id


def stress_study(store: Store, folder: Path) -> int:
    """An exercise stress test (the exercise simulator's 12-lead recording with its Bruce protocol file,
    1.5 mm of ST depression from stage 2, supervised by the demo physician), analysed and reported."""
    import json

    from ecgdesk.records.simulator.exercise import ExerciseConfig, simulate_exercise
    from ecgdesk.workflow.demo import DEMO_NPI
    from ecgdesk.workflow.ecg_services import analyze_ecg_study
    from ecgdesk.workflow.reporting import report_study

    config = ExerciseConfig(
        exercise_s=240, pretest_s=60, recovery_s=120, fs=250.0, st_depression_mm=1.5, seed=11
    )
    out = simulate_exercise(config, folder)
    protocol = json.loads(out.protocol.read_text())
    protocol["supervisor"] = {"name": "Dana Demo, MD", "npi": DEMO_NPI}
    out.protocol.write_text(json.dumps(protocol))
    request = StudyRequest(
        patient_id="MRN-20588",
        name="Moreau, Celine",
        birth_date=date(1969, 9, 14),
        sex="F",
        service=Service.STRESS_TEST,
        ordering_npi="1245319599",
        indications=("R07.9",),
        ordering_name="Oliver Order, MD",
    )
    study_id = create_study(store, request, actor="tech.demo")
    import_recording(store, study_id, out.record, actor="tech.demo")
    analyze_ecg_study(store, study_id, "tech.demo")
    report_study(store, study_id, "tech.demo")
    return study_id


def serve_demo(folder: Path, hours: float = 1.5) -> Iterator[Served]:
    """The demo database (a 2-lead study analysed and reported, a user per role) served on loopback."""
    from ecgdesk.workflow.demo import ensure_service_demo

    demo = ensure_service_demo(folder / "demo", hours=hours, leads=2)
    store = open_store(url=demo.url, home=demo.home)
    _more_studies(store)
    resting = resting_study(store, folder)
    policy = SecurityPolicy(idle_s=900, absolute_s=3600, lockout_attempts=5, lockout_s=60, touch_s=0)
    app = create_app(store, ServiceSettings(upload_limit_bytes=50_000_000, policy=policy))
    try:
        with serve_in_thread(app) as url:
            yield Served(url, store, demo.study_ids[0], demo.home, resting)
    finally:
        store.close()


def shots_folder(tmp: Path) -> Path:
    folder = DOCS_SHOTS if os.environ.get(SHOTS_ENV) == "1" else tmp / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_small(page: Any, path: Path) -> None:
    """A screenshot as a small PNG: 1366x768, reduced to a 96-colour palette (sharp for UI and ECG)."""
    from PIL import Image

    page.screenshot(path=str(path))
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        small = rgb.quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def open_logged_in(chromium: Any, base_url: str, username: str, password: str = PIN) -> Any:
    """A new browser context at 1366x768 logged in through the login form; ``page.errors`` collects the
    page's script errors (a test asserts there are none)."""
    context = chromium.new_context(viewport=VIEWPORT, base_url=base_url)
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


@contextlib.contextmanager
def cheap_password_hashing() -> Iterator[None]:
    """argon2 at its cheapest while a module's server runs (module-scoped fixtures cannot use the
    function-scoped ``cheap_hashes``; the parameters are stored in each hash, so checking works the same)."""
    from argon2 import PasswordHasher

    with pytest.MonkeyPatch.context() as mp:
        cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        mp.setattr("ecgdesk.workflow.users.HASHER", cheap)
        yield


@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, with the service's own launch arguments."""
    sync_playwright = need_browser()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        yield launched
        launched.close()


def wait_js(page: Any, expression: str, timeout_s: float = 60) -> None:
    """Poll a JavaScript condition (the pages' CSP forbids eval, which wait_for_function would need)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.1)


def interpret(page: Any, study_id: int, text: str) -> None:
    """Write the interpretation on the report page and save it (a reviewed version; the page reloads)."""
    page.goto(f"/studies/{study_id}/report")
    page.fill("#interp", text)
    with page.expect_navigation(timeout=120_000):
        page.locator("#interp-form button[type=submit]").click()
    page.locator("[data-testid=sign-button]").wait_for(timeout=120_000)


def count(line: str, label: str) -> int:
    """The number after ``label`` in "Beats in the study: N 6,189 · S 56 · V 82 · ..."."""
    part = line.split(f" {label} ", 1)[1]
    return int(part.split(" ")[0].replace(",", ""))


def csrf(page: Any) -> str:
    return str(page.get_attribute('meta[name="csrf-token"]', "content"))


#: Records on which canvases text is drawn (``window.__textOn``: their ids); installed with
#: ``page.add_init_script`` before the page's scripts run.
RECORD_CANVAS_TEXT = """(() => {
  const fill = CanvasRenderingContext2D.prototype.fillText; window.__textOn = [];
  CanvasRenderingContext2D.prototype.fillText = function (...args) {
    window.__textOn.push(this.canvas.id); return fill.apply(this, args); }; })()"""
#: A text box's room for text (its content width) and the width of its placeholder in its font.
_PLACEHOLDER_ROOM = """(id) => { const box = document.getElementById(id), css = getComputedStyle(box);
  const ctx = document.createElement('canvas').getContext('2d'); ctx.font = css.font;
  return [box.clientWidth - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight),
          ctx.measureText(box.placeholder).width]; }"""


def assert_placeholder_fits(page: Any, box_id: str, widths: tuple[int, ...]) -> None:
    """The box shows its whole placeholder at each window width, with the room Chromium keeps for a search
    box's clear button (about 20 px, kept while the button is hidden); the viewport is put back."""
    for width in widths:
        page.set_viewport_size({"width": width, "height": 800})
        room, text = page.evaluate(_PLACEHOLDER_ROOM, box_id)
        assert room >= text + 20, f"#{box_id} at {width} px: {room:.0f} px of room for {text:.0f} px of text"
    page.set_viewport_size(VIEWPORT)


def assert_legend_above_a_track_without_text(page: Any) -> None:
    """The viewer's overview legend is text above the track and no text is drawn in the track (needs
    RECORD_CANVAS_TEXT installed before the viewer opened)."""
    legend = page.locator("[data-testid=overview-legend]")
    assert "patient events" in legend.inner_text()
    above, track = legend.bounding_box(), page.locator("#overview").bounding_box()
    assert above is not None and track is not None and above["y"] + above["height"] <= track["y"]
    assert "overview" not in page.evaluate("window.__textOn"), "text drawn in the overview track"
