"""A report version's files: rendered into a temporary folder and renamed into place complete.

Any kind of report (scanning, resting ECG or stress test, monitoring period) goes through
:func:`render_into`, so a version's folder never mixes the files of two renders (a process that took the
study over, or a run whose database transaction did not commit).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from ecgdesk.reports.context import ScanningReportContext, report_content_digest
from ecgdesk.reports.monitoring_report import MonitoringReportContext
from ecgdesk.reports.monitoring_report import content_digest as monitoring_digest
from ecgdesk.reports.monitoring_report import render as render_monitoring_report
from ecgdesk.reports.scanning import render_scanning_report
from ecgdesk.store import Store
from ecgdesk.workflow.ecg_services import EcgReportContext, ecg_content_digest, render_ecg_report
from ecgdesk.workflow.report_files import FolderTakenError, in_use

AnyReportContext = ScanningReportContext | EcgReportContext | MonitoringReportContext


def content_digest(ctx: AnyReportContext) -> str:
    """What a signature covers, for any kind of report (the signature block itself excluded)."""
    if isinstance(ctx, ScanningReportContext):
        return report_content_digest(ctx)
    if isinstance(ctx, MonitoringReportContext):
        return monitoring_digest(ctx)
    return ecg_content_digest(ctx)


def render_into(
    store: Store, ctx: AnyReportContext, final: Path, session: Session | None = None
) -> tuple[Path, Path | None]:
    """Render into a temporary folder and rename it to ``final``: a folder already there is replaced only
    when no stored version uses it (one left by a run that did not commit); else :class:`FolderTakenError`
    and nothing is changed, so a version's folder never mixes the files of two renders."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        second: Path | None
        if isinstance(ctx, MonitoringReportContext):
            pdf, second = render_monitoring_report(ctx, tmp), None
        elif isinstance(ctx, ScanningReportContext):
            rendered = render_scanning_report(ctx, tmp)
            pdf, second = rendered.pdf_path, rendered.html_path
        else:
            pdf, extra = render_ecg_report(ctx, tmp)
            second = extra
        if final.exists():
            if in_use(store, final, session):
                raise FolderTakenError("report", f"{store.relative(final)} was rendered and stored meanwhile "
                                       "by another process (it took this study over); nothing was changed")
            shutil.rmtree(final)  # left by a run whose database transaction did not commit
        os.rename(tmp, final)  # refused (not merged) if a folder appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final / pdf.name, (final / second.name) if second is not None else None


def version_folder(store: Store, study_id: int, version: int) -> Path:
    return store.studies_root / str(study_id) / "reports" / f"v{version}"
