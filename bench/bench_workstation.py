"""The review workstation's targets (issue 13), measured in the real browser on the demo 8-day study.

    .venv/bin/python bench/bench_workstation.py [--days 8] [--leads 1] [--cache bench/.cache/workstation]
        [--turns 20] [--opens 5]

Targets: time to the first drawn strip when the viewer opens <= 1 s; each page turn <= 150 ms; never more
than about 2 values per screen pixel; the bytes of a page turn reported.

Steps (the demo database is cached under ``--cache``, not committed; building it simulates, imports and
analyses the whole recording once, several minutes):

1. ``ensure_service_demo``: the demo users and the demo study (``--days`` of simulated patch recording,
   analysed and reported), as ``ecgdesk serve --demo`` makes it;
2. the application on uvicorn in this process (loopback, one worker), Debian's Chromium driven by
   Playwright at 1366x768, logged in as the technician;
3. ``--opens`` times: open the viewer at a random hour (a new page load each time: HTML, scripts, the
   signal of every shown lead) and read the Performance API: the time from navigation start to the
   strip drawn (``window.__wsPerf.firstStrip``, ``performance.now()`` at the end of the first paint), and
   the navigation timing of the HTML;
4. ``--turns`` page turns with the → key, as a reader pages, with the viewer's prefetch of the
   neighbouring pages (as shipped) and then without it (``?prefetch=0``: every turn asks the server);
   per turn the time from the key's handler to the painted strip and the bytes of signal JSON it
   fetched;
5. one draw per zoom level (25 mm/s to the whole recording): values received per pixel of the strip.

Prints a table and appends rows to ``bench/results/workstation.csv``, with the machine's load average
(the machine is shared: the figures are upper bounds).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "workstation.csv"
CHROMIUM = os.environ.get("ECGDESK_CHROMIUM", "/usr/bin/chromium")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def wait_js(page: object, expression: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {expression}")
        time.sleep(0.005)


def drop_stale_cache(folder: Path) -> None:
    """Remove a cached demo database that lacks tables of today's schema (one built on an older branch whose
    migrations were re-chained since: Alembic would call it current and the service would fail)."""
    db = folder / "ecgdesk.sqlite"
    if not db.exists():
        return
    import shutil

    from sqlalchemy import create_engine, inspect

    from ecgdesk.store.models import load_all_models

    engine = create_engine(f"sqlite:///{db}")
    try:
        missing = set(load_all_models().tables) - set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if missing:
        print(f"demo: cache {folder} lacks tables {sorted(missing)}: building it again", flush=True)
        shutil.rmtree(folder)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=float, default=8.0)
    parser.add_argument("--leads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache" / "workstation")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--opens", type=int, default=5)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from ecgdesk.service import create_app
    from ecgdesk.service.local import CHROMIUM_ARGS, serve_in_thread
    from ecgdesk.service.settings import ServiceSettings
    from ecgdesk.store import open_store
    from ecgdesk.workflow.demo import DEMO_PIN, ensure_service_demo

    folder = args.cache / f"{args.days:g}d-{args.leads}l"
    drop_stale_cache(folder)
    t0 = time.perf_counter()
    demo = ensure_service_demo(
        folder,
        hours=args.days * 24,
        leads=args.leads,
        say=lambda step, msg: print(f"demo: {msg}", flush=True),
    )
    if demo.created:
        print(f"demo database built in {time.perf_counter() - t0:.0f} s", flush=True)
    study = demo.study_ids[0]
    store = open_store(url=demo.url, home=demo.home)
    rows: list[dict[str, object]] = []
    load_before = os.getloadavg()
    rng = random.Random(13)
    with serve_in_thread(create_app(store, ServiceSettings())) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1366, "height": 768}, base_url=url)
        page.goto("/login")
        page.fill("input[name=username]", "tech.demo")
        page.fill("input[name=password]", DEMO_PIN)
        page.press("input[name=password]", "Enter")
        page.wait_for_url("**/worklist")

        firsts, htmls = [], []
        for i in range(args.opens):
            hour = rng.uniform(0, args.days * 24 - 1)
            page.goto(f"/studies/{study}/viewer?t={hour * 3600:.0f}")
            wait_js(page, "window.__wsPerf && window.__wsPerf.firstStrip !== null")
            first = page.evaluate("window.__wsPerf.firstStrip")
            html = page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")
            firsts.append(first)
            htmls.append(html)
            print(
                f"open {i + 1}: first strip drawn {first:.0f} ms after navigation start (HTML {html:.0f} ms)"
            )

        def turns(prefetch: bool) -> tuple[list[float], list[float]]:
            suffix = "" if prefetch else "&prefetch=0"
            page.goto(f"/studies/{study}/viewer?t={rng.uniform(3600, 20 * 3600):.0f}{suffix}")
            wait_js(page, "window.__wsPerf && window.__wsPerf.firstStrip !== null")
            page.locator("#strip").focus()
            time.sleep(0.5)  # let the prefetch of the neighbours land, as while a reader looks at a page
            for _ in range(args.turns):
                drawn = page.evaluate("Number(document.getElementById('strip').dataset.drawn)")
                page.keyboard.press("ArrowRight")
                wait_js(page, f"Number(document.getElementById('strip').dataset.drawn) > {drawn}")
                time.sleep(0.3)
            perf = page.evaluate("window.__wsPerf")
            return list(perf["turns"]), list(perf["bytes"])

        warm_ms, _ = turns(prefetch=True)
        cold_ms, cold_bytes = turns(prefetch=False)

        page.goto(f"/studies/{study}/viewer?t=7200&prefetch=0")
        wait_js(page, "window.__wsPerf && window.__wsPerf.firstStrip !== null")
        page.locator("#strip").focus()
        zooms = []
        for level in range(8):
            perf = page.evaluate("window.__wsPerf")
            values, widths = perf["values"][-1], perf["widths"][-1]
            label = page.locator("#zoom-label").inner_text()
            zooms.append((level, label, values, widths))
            drawn = page.evaluate("Number(document.getElementById('strip').dataset.drawn)")
            page.keyboard.press("-")
            if level < 7:
                wait_js(page, f"Number(document.getElementById('strip').dataset.drawn) > {drawn}")
        browser.close()
    store.close()
    load_after = os.getloadavg()

    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    load = f"{load_before[0]:.1f}-{load_after[0]:.1f}"
    print(
        f"\nload average (1 min) {load} on {os.cpu_count()} cores; "
        f"{args.days:g}-day study, {args.leads} lead(s)"
    )
    print(f"{'what':44} {'p50':>8} {'p95':>8} {'max':>8}  target")

    def line(what: str, values: list[float], unit: str, target: str) -> None:
        print(
            f"{what:44} {statistics.median(values):8.0f} {p95(values):8.0f} {max(values):8.0f}  "
            f"{target} ({unit})"
        )
        rows.append(
            {
                "when": stamp,
                "what": what,
                "n": len(values),
                "p50": round(statistics.median(values), 1),
                "p95": round(p95(values), 1),
                "max": round(max(values), 1),
                "unit": unit,
                "load": load,
                "days": args.days,
                "leads": args.leads,
            }
        )

    line("first strip drawn after navigation start", firsts, "ms", "<= 1000")
    line("  of which the HTML page (responseEnd)", htmls, "ms", "")
    line("page turn, prefetch on (as shipped)", warm_ms, "ms", "<= 150")
    line("page turn, prefetch off (server each turn)", cold_ms, "ms", "<= 150")
    line("signal JSON bytes per page turn", cold_bytes, "bytes", "report")
    for level, label, values, widths in zooms:
        ratio = values / widths
        print(
            f"zoom {level}: {label:38} {values:6d} values for {widths:5d} px = {ratio:.2f} per pixel (<= 2)"
        )
        rows.append(
            {
                "when": stamp,
                "what": f"zoom {level} values per pixel",
                "n": 1,
                "p50": round(ratio, 3),
                "p95": round(ratio, 3),
                "max": round(ratio, 3),
                "unit": label,
                "load": load,
                "days": args.days,
                "leads": args.leads,
            }
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
