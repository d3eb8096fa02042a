"""``render_scanning_report``: the Holter / patch scanning report as PDF and HTML.

>>> from ecgdesk.reports.scanning import render_scanning_report  # doctest: +SKIP
>>> out = render_scanning_report(ctx, Path("out/study-42"))      # doctest: +SKIP
>>> out.pdf_path, out.page_count, out.content_sha256[:12]        # doctest: +SKIP

The layout is described in ``docs/reports.md``. Both files are written under temporary names and renamed
into place, so an interrupted run never leaves a half-written report.
"""

from __future__ import annotations

from pathlib import Path

from ecgdesk.errors import InputError
from ecgdesk.reports.context import RenderedReport, ScanningReportContext, report_content_digest
from ecgdesk.reports.scanning_html import write_html
from ecgdesk.reports.scanning_pdf import write_pdf


def render_scanning_report(ctx: ScanningReportContext, out_dir: Path, basename: str = "report",
                           html: bool = True) -> RenderedReport:
    """Write ``out_dir/<basename>.pdf`` and ``.html``; returns the paths, the content digest, the pages.

    Strips need ``ctx.recording`` (and ``ctx.beats`` for beat letters); without a recording the strip
    places say so. ``html=False`` skips the HTML (its path is still returned but not written).
    """
    if not basename or any(c in basename for c in "/\\") or basename.startswith("."):
        raise InputError("basename", f"{basename!r} is not a plain file name")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError("out_dir", f"cannot create the output folder: {error.strerror or error}",
                         out_dir) from None
    digest = report_content_digest(ctx)
    pdf_path = out_dir / f"{basename}.pdf"
    html_path = out_dir / f"{basename}.html"
    pages = write_pdf(ctx, pdf_path, digest)
    if html:
        write_html(ctx, html_path, digest)
    return RenderedReport(pdf_path=pdf_path, html_path=html_path, content_sha256=digest, page_count=pages)
