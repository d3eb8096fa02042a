"""Seconds per scanning report as a save or a signature renders it: the old rendering path against the new.

The study is the workflow tests' (tests/workflow/test_workflow_signature.py): a 2-minute synthetic WFDB
record, analysed with the tests' fake analyser, one technician. Each report is one ``report_study`` after
a changed technician comment (a new version: PDF and HTML with strip images), as a physician's save does.
The old path is selected in the same process by undoing each speed-up (``fit_fonts`` made a no-op, the
image cache replaced by one that keeps nothing, each figure cleared after saving), so
both run on the same machine, interleaved report by report; CPU seconds are printed beside wall seconds
(the machine is shared). Writes ``bench/results/report_render.csv``.

    .venv/bin/python bench/bench_report_render.py [--reports 6]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "workflow")]

from workflow_builders import fake_analyzer, request  # noqa: E402

from ecgdesk.records import write_recording  # noqa: E402
from ecgdesk.reports import scanning_html, scanning_pdf  # noqa: E402
from ecgdesk.store import Store, open_store  # noqa: E402
from ecgdesk.workflow.analysis import analyze_study  # noqa: E402
from ecgdesk.workflow.demo import synthetic_recording  # noqa: E402
from ecgdesk.workflow.reporting import report_study  # noqa: E402
from ecgdesk.workflow.studies import create_study, import_recording, set_technician_comments  # noqa: E402
from ecgdesk.workflow.users import add_user  # noqa: E402


@contextmanager
def old_path() -> Iterator[None]:
    """The rendering as it was: every text looks the whole fallback list up, the HTML's images are drawn
    for each version (a cache that keeps nothing; only the keys are still computed), and each figure is
    cleared after it is saved."""
    saved: list[tuple[object, str, object]] = []
    for module in (scanning_pdf, scanning_html):
        saved.append((module, "fit_fonts", module.fit_fonts))
        module.fit_fonts = lambda fig: None  # type: ignore[assignment]
    saved.append((scanning_html, "IMAGES", scanning_html.IMAGES))
    scanning_html.IMAGES = scanning_html._ImageCache(0)
    png_uri = scanning_html._png_uri

    def png_uri_then_clear(fig: Figure, dpi: int) -> str:
        uri = png_uri(fig, dpi)
        fig.clear()
        return uri

    class ClearingPdfPages(PdfPages):
        def savefig(self, figure: Any = None, **kwargs: Any) -> None:
            super().savefig(figure, **kwargs)
            figure.clear()

    saved += [(scanning_html, "_png_uri", png_uri), (scanning_pdf, "PdfPages", PdfPages)]
    scanning_html._png_uri = png_uri_then_clear  # type: ignore[assignment]
    scanning_pdf.PdfPages = ClearingPdfPages  # type: ignore[misc]
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _study(folder: Path) -> tuple[Store, int]:
    record = write_recording(synthetic_recording(2.0, seed=3), folder / "record", "wfdb", "tiny")
    store = open_store(url=f"sqlite:///{folder / 'db.sqlite'}", home=folder / "home")
    add_user(store, "tech", "technician", "9999-9999", "Terry Tech")
    study_id = create_study(store, request(), "tech")
    import_recording(store, study_id, record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")  # the first render (font cache, imports) is not timed
    return store, study_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=6, help="reports rendered on each path")
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        store, study_id = _study(Path(tmp))
        for i in range(args.reports):
            for path in ("old", "new") if i % 2 == 0 else ("new", "old"):
                set_technician_comments(store, study_id, f"Comment {path} {i}.", "tech")
                with old_path() if path == "old" else _nothing():
                    wall, cpu = time.perf_counter(), time.process_time()
                    report_study(store, study_id, "tech")
                    times[path].append((time.perf_counter() - wall, time.process_time() - cpu))
        store.close()
    rows = []
    for path, runs in times.items():
        rows.append({"path": path, "reports": len(runs),
                     "median_wall_s": round(statistics.median(w for w, _ in runs), 3),
                     "median_cpu_s": round(statistics.median(c for _, c in runs), 3),
                     "min_cpu_s": round(min(c for _, c in runs), 3)})
    for row in rows:
        print(f"{row['path']}: {row['median_cpu_s']} CPU s per report (median of {row['reports']}; "
              f"min {row['min_cpu_s']}), wall {row['median_wall_s']} s")
    print(f"new/old CPU: {rows[1]['median_cpu_s'] / rows[0]['median_cpu_s']:.2f}")
    out = ROOT / "bench" / "results" / "report_render.csv"
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out}")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
