"""A report prints exactly the strips chosen on the workstation (``event_strips`` / ``patient_strips``),
the choice is part of the signed content, and a report without a choice keeps its digest."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from scanning_builders import synthetic_long_findings

from ecgdesk.reports.context import (
    ReportHeader,
    ScanningReportContext,
    canonical_content,
    report_content_digest,
)
from ecgdesk.reports.events import EventStrip, report_event_strips, report_patient_strips, select_event_strips
from ecgdesk.reports.scanning_pdf import STRIP_S, build_pages

START = datetime(2026, 3, 2, 9, 15)


def _ctx(**changes: object) -> ScanningReportContext:
    findings = synthetic_long_findings(days=1.0, start=START)
    return dataclasses.replace(ScanningReportContext(ReportHeader(study_id="7"), findings), **changes)


def test_no_choice_prints_the_proposed_strips_and_keeps_the_digest() -> None:
    ctx = _ctx()
    assert "strips" not in canonical_content(ctx)
    assert report_event_strips(ctx, STRIP_S) == select_event_strips(ctx.findings, STRIP_S)
    assert report_patient_strips(ctx, STRIP_S)  # one per patient event


def test_the_report_prints_exactly_the_selection() -> None:
    proposed = select_event_strips(_ctx().findings, STRIP_S)
    mine = EventStrip(
        "Rest, for comparison", "Strip selected on the workstation", "by tech", 600.0, STRIP_S, 603.0
    )
    ctx = _ctx(event_strips=[proposed[0], mine], patient_strips=[])
    assert report_event_strips(ctx, STRIP_S) == [proposed[0], mine]
    assert report_patient_strips(ctx, STRIP_S) == []
    titles = [page.title for page in build_pages(ctx, "0" * 64)]
    assert "Patient-triggered event strips" not in titles
    none = _ctx(event_strips=[], patient_strips=[])
    assert "Event strips" not in [page.title for page in build_pages(none, "0" * 64)]
    digests = {report_content_digest(c) for c in (_ctx(), ctx, none)}
    assert len(digests) == 3  # the choice is part of what a signature covers
    moved = _ctx(event_strips=[proposed[0], dataclasses.replace(mine, start_s=610.0)], patient_strips=[])
    assert report_content_digest(moved) != report_content_digest(ctx)
