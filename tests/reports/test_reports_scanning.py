"""The scanning report: a valid multi-page PDF and HTML with the clinical content, the digest rules, the
unsigned banner, multi-day layout and bad input. Strips use MIT-BIH 208 with its reference beat labels."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from scanning_builders import aami_beats, findings_from_beats, pdf_text, synthetic_long_findings

from conftest import shared_path
from ecgdesk.errors import InputError
from ecgdesk.reports.context import (
    Addendum,
    ReportHeader,
    ScanningReportContext,
    SignatureBlock,
    SimpleBeats,
    report_content_digest,
)
from ecgdesk.reports.events import select_event_strips
from ecgdesk.reports.scanning import render_scanning_report
from ecgdesk.reports.scanning_html import html_text
from ecgdesk.reports.scanning_pdf import STRIP_S, build_pages
from ecgdesk.reports.tables import Clock
from ecgdesk.reports.trend import trend_rows

START = datetime(2026, 3, 2, 9, 15)
HEADER = ReportHeader(
    patient_name="Doe, Jane", patient_id="MRN-0042", birth_date=date(1951, 4, 3), sex="F",
    ordering_physician="Dr. Paul Order", ordering_npi="1234567893", indications=("R00.2 Palpitations",),
    device="Patch P-100", recording_start=START, facility="Heart Lab IDTF", study_id="S-2026-0042",
)


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


@pytest.fixture(scope="module")
def mitdb208():
    wfdb = pytest.importorskip("wfdb")
    from ecgdesk.records.open import open_recording

    header = shared_path("mitdb", "208.hea")
    rec = open_recording(header)
    ann = wfdb.rdann(str(header.with_suffix("")), "atr")
    samples, labels = aami_beats(ann.sample, ann.symbol)
    x = rec.read(0, int(rec.fs * 60), 0)[:, 0]
    normal = samples[(labels == "N") & (samples > 200) & (samples < rec.fs * 60 - 300)][:20]
    wave = np.median(np.stack([x[k - 144:k + 216] for k in normal]), axis=0)
    findings = findings_from_beats(samples, labels, rec.fs, rec.n_samples, START,
                                   events=[(300.0, "dizzy"), (1200.0, "palpitations")],
                                   af_spans_s=[(600.0, 660.0)], waveform=wave)
    return rec, SimpleBeats(samples, labels), findings


def _ctx(mitdb208, **kw) -> ScanningReportContext:
    rec, beats, findings = mitdb208
    base = {"technician_comments": "Frequent PVCs, couplets.",
            "interpretation": "Sinus rhythm with frequent PVCs."}
    return ScanningReportContext(HEADER, findings, rec, beats, **{**base, **kw})


@pytest.fixture(scope="module")
def unsigned_report(mitdb208, tmp_path_factory):
    ctx = _ctx(mitdb208)
    out = render_scanning_report(ctx, tmp_path_factory.mktemp("unsigned"))
    return ctx, out


def test_pdf_is_valid_with_the_reported_page_count(unsigned_report):
    _, out = unsigned_report
    data = out.pdf_path.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert _pdf_pages(data) == out.page_count
    # summary, trend, event strips, patient events table with strips, hourly table with templates
    assert 5 <= out.page_count <= 10
    box = re.search(rb"MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", data)
    assert box is not None and float(box.group(1)) == pytest.approx(595.28, abs=0.1)  # A4 width in points
    assert not list(out.pdf_path.parent.glob(".*tmp*")), "temporary files left behind"


def test_html_carries_the_clinical_content(unsigned_report):
    ctx, out = unsigned_report
    html = out.html_path.read_text(encoding="utf-8")
    f = ctx.findings
    for text in ("Doe, Jane", "MRN-0042", "S-2026-0042", "Dr. Paul Order (NPI 1234567893)", "Heart Lab IDTF",
                 "R00.2 Palpitations", "Frequent PVCs, couplets.", "Sinus rhythm with frequent PVCs.",
                 f"{f.summary.ectopy.v_total:,} ({f.summary.ectopy.v_burden_pct:.2f} %)",
                 f"{f.summary.heart_rate.max.bpm:.0f} bpm at", "Hourly table", "palpitations", "dizzy"):
        assert text in html, text
    strips = select_event_strips(f, STRIP_S)
    shown = " / ".join(s.title for s in strips)
    for kind in ("Longest pause", "AF onset (first episode)", "Maximum heart rate", "Minimum heart rate"):
        assert kind in shown
    for i, strip in enumerate(strips, start=1):
        assert strip.title in html
        assert f'<div class="strip" id="event-{i}">' in html and f'href="#event-{i}"' in html
    n_images = html.count("data:image/png;base64,")
    assert n_images == 1 + len(strips) + len(f.patient_events) + 1  # trend, strips, event strips, templates
    assert html.count("<tr><td>09:") + html.count("<tr><td>10:") >= len(f.hourly)


def _images(html: str) -> list[str]:
    return re.findall(r"data:image/png;base64,[^\"']+", html)


def test_a_version_that_changes_only_text_reuses_the_images(unsigned_report, mitdb208, monkeypatch):
    """Each save and signature renders a new version whose strips are the version before's: their images
    were drawn and encoded again each time. They now come from the images already drawn, byte for byte
    the same (drawn by the first render), and so do the trend and the templates; a strip whose beats
    changed (relabelled beats) is drawn again, and the trend and templates are drawn again for other
    findings."""
    from ecgdesk.reports import scanning_html
    from ecgdesk.reports.events import report_event_strips

    ctx, out = unsigned_report
    first = _images(out.html_path.read_text(encoding="utf-8"))
    drawn: list[float] = []
    draw = scanning_html.draw_strip_data

    def counting(ax, data, *args):
        drawn.append(data.start_s)
        draw(ax, data, *args)

    monkeypatch.setattr(scanning_html, "draw_strip_data", counting)
    others: list[str] = []
    for name in ("_draw_trend_images", "_draw_templates_image"):
        real = getattr(scanning_html, name)
        monkeypatch.setattr(scanning_html, name,
                            lambda c, real=real, name=name: (others.append(name), real(c))[1])
    amended = dataclasses.replace(ctx, interpretation="Sinus rhythm; PVCs and couplets reviewed.")
    reused = _images(html_text(amended, report_content_digest(amended)))
    assert drawn == [] and others == [] and reused == first
    rec, beats, _ = mitdb208
    strip = report_event_strips(ctx, STRIP_S)[0]
    a, b = strip.start_s * rec.fs, (strip.start_s + strip.duration_s) * rec.fs
    labels = np.asarray(beats.labels).copy()
    inside = (np.asarray(beats.samples) >= a) & (np.asarray(beats.samples) < b)
    labels[inside] = np.where(labels[inside] == "V", "N", "V")
    relabelled = dataclasses.replace(amended, beats=SimpleBeats(beats.samples, labels))
    changed = _images(html_text(relabelled, report_content_digest(relabelled)))
    assert len(drawn) >= 1 and len(drawn) < len(first) - 2  # the strips over that window only
    assert changed[1] != first[1] and len(changed) == len(first)
    assert sum(x != y for x, y in zip(changed, first, strict=True)) == len(drawn) and others == []
    findings = dataclasses.replace(ctx.findings, templates=ctx.findings.templates[:1])
    fewer = dataclasses.replace(amended, findings=findings)
    redrawn = _images(html_text(fewer, report_content_digest(fewer)))
    assert others == ["_draw_trend_images", "_draw_templates_image"]  # other findings: drawn again
    assert redrawn[0] == first[0] and redrawn[-1] != first[-1]  # same trend, one template left


def test_unsigned_report_says_so_and_signed_one_names_the_signer(unsigned_report, mitdb208, tmp_path):
    _, out = unsigned_report
    assert "NOT SIGNED" in out.html_path.read_text(encoding="utf-8")
    runs = pdf_text(out.pdf_path.read_bytes())
    assert sum(r.startswith("NOT SIGNED") for r in runs) >= out.page_count  # banner on every page
    assert [r for r in runs if r.startswith("Page ")] == [f"Page {i} of {out.page_count}"
                                                          for i in range(1, out.page_count + 1)]
    signed = _ctx(mitdb208)
    signed.signature = SignatureBlock("Anna Reader", "MD", datetime(2026, 3, 4, 10, 5),
                                      report_content_digest(signed))
    res = render_scanning_report(signed, tmp_path, basename="signed", html=True)
    html = res.html_path.read_text(encoding="utf-8")
    assert "NOT SIGNED" not in html and "Interpreted by: Anna Reader, MD" in html
    assert "2026-03-04 10:05:00" in html and res.content_sha256 == out.content_sha256
    assert "CONTENT CHANGED SINCE SIGNING" not in html
    runs = pdf_text(res.pdf_path.read_bytes())
    assert "Interpreted by: Anna Reader, MD" in runs and not any(r.startswith("NOT SIGNED") for r in runs)
    assert any("Doe, Jane" in r and "MRN-0042" in r for r in runs)  # the footer
    assert f"Signature covers content SHA-256: {res.content_sha256}" in runs


def test_signature_over_other_content_is_flagged(mitdb208):
    ctx = _ctx(mitdb208)
    digest = report_content_digest(ctx)
    ctx.signature = SignatureBlock("Anna Reader", "MD", datetime(2026, 3, 4, 10, 5), digest)
    ctx.interpretation += " Edited after signing."
    html = html_text(ctx, report_content_digest(ctx))
    assert "CONTENT CHANGED SINCE SIGNING" in html


def test_digest_covers_content_not_the_signature(mitdb208):
    ctx = _ctx(mitdb208)
    first = report_content_digest(ctx)
    assert report_content_digest(_ctx(mitdb208)) == first  # same content, same digest
    ctx.signature = SignatureBlock("Anna Reader", "MD", datetime(2026, 3, 4, 10, 5), first)
    assert report_content_digest(ctx) == first
    assert report_content_digest(_ctx(mitdb208, interpretation="Sinus rhythm. Frequent PVCs.")) != first
    assert report_content_digest(_ctx(mitdb208, technician_comments="other")) != first
    addendum = ("Also NSVT.", "A. Reader", datetime(2026, 3, 5))
    assert report_content_digest(_ctx(mitdb208, addenda=[addendum])) != first
    rec, beats, findings = mitdb208
    k = int(np.flatnonzero(beats.labels == "N")[0])  # a technician relabels one normal beat as V
    relabelled = SimpleBeats(beats.samples, np.where(np.arange(beats.labels.size) == k, "V", beats.labels))
    relabelled_ctx = ScanningReportContext(HEADER, findings, rec, relabelled, ctx.technician_comments,
                                           ctx.interpretation)
    assert report_content_digest(relabelled_ctx) != first
    moved = dataclasses.replace(rec, record_name="copy", path=Path("/elsewhere/copy.hea"))
    same_signal = ScanningReportContext(HEADER, findings, moved, beats, ctx.technician_comments,
                                        ctx.interpretation)
    assert report_content_digest(same_signal) == first  # where the file lies is not report content
    v2 = dataclasses.replace(HEADER, report_version=2)
    assert report_content_digest(ScanningReportContext(v2, findings, rec, beats, ctx.technician_comments,
                                                       ctx.interpretation)) != first


def test_addenda_are_printed_after_the_signature(mitdb208):
    ctx = _ctx(mitdb208, addenda=[Addendum("Runs reviewed again: 3 beats at most.", "A. Reader",
                                           datetime(2026, 3, 5, 8, 0))])
    html = html_text(ctx, report_content_digest(ctx))
    assert html.index("Addendum 1") > html.index("NOT SIGNED &mdash; preliminary report")
    assert "Runs reviewed again: 3 beats at most." in html


def test_long_interpretation_continues_on_another_page(mitdb208, tmp_path):
    short = _ctx(mitdb208)
    text = "\n".join(f"Finding {i}: " + "word " * 20 for i in range(60))
    long = render_scanning_report(_ctx(mitdb208, interpretation=text), tmp_path / "b", html=False)
    assert long.page_count > len(build_pages(short, report_content_digest(short)))
    assert "Interpretation and comments (continued)" in pdf_text(long.pdf_path.read_bytes())
    assert _pdf_pages(long.pdf_path.read_bytes()) == long.page_count


def test_multi_day_report_without_recording(tmp_path):
    findings = synthetic_long_findings(days=9.0, start=datetime(2026, 3, 2, 9, 30))
    ctx = ScanningReportContext(dataclasses.replace(HEADER, recording_start=None), findings)
    out = render_scanning_report(ctx, tmp_path)
    rows = trend_rows(findings.summary.recording.duration_s, datetime(2026, 3, 2, 9, 30))
    assert len(rows) == 10  # calendar days: a partial first and last day
    hourly_pages = -(-len(findings.hourly) // 58)
    assert out.page_count >= 1 + 1 + 1 + 1 + hourly_pages  # summary, trend, strips, events, hourly
    assert _pdf_pages(out.pdf_path.read_bytes()) == out.page_count
    runs = pdf_text(out.pdf_path.read_bytes())
    assert "Heart-rate trend" in runs and "Heart-rate trend (continued)" not in runs  # 10 days on one page
    assert "Day 1  Mon 03-02" in runs and "Day 10  Wed 03-11" in runs  # one row per calendar day
    html = out.html_path.read_text(encoding="utf-8")
    assert "no recording attached" in html
    assert "D9 " in html and "Day 4 " in html  # multi-day times carry the day


def test_clock_formats_multi_day_and_elapsed_times():
    clock = Clock(datetime(2026, 3, 2, 23, 0), 3 * 86400.0)
    assert clock.at(3600.0 + 61) == "Day 2 00:01:01"
    assert Clock(None, 1800.0).at(75.0) == "+00:01:15"
    assert Clock(None, 3 * 86400.0).at(86400.0 + 3.0) == "+1d 00:00:03"


def test_bad_input_is_named(mitdb208, tmp_path):
    ctx = _ctx(mitdb208)
    with pytest.raises(InputError, match="basename"):
        render_scanning_report(ctx, tmp_path, basename="../x")
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    with pytest.raises(InputError) as err:
        render_scanning_report(ctx, blocker / "sub")
    assert "out_dir" in str(err.value) and str(blocker / "sub") in str(err.value)
    assert blocker.read_text() == "keep me"
    with pytest.raises(InputError, match="content_sha256"):
        SignatureBlock("A. Reader", "MD", datetime(2026, 1, 1), "abc")
    with pytest.raises(InputError, match="printed_name"):
        SignatureBlock(" ", "MD", datetime(2026, 1, 1), "0" * 64)
    with pytest.raises(InputError, match="indications"):
        ReportHeader(indications="R00.2")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"addenda\[0\]"):
        _ctx(mitdb208, addenda=["just text"])
    with pytest.raises(InputError, match="lead"):
        render_scanning_report(_ctx(mitdb208, lead="V9"), tmp_path / "lead")


def _count_figures(monkeypatch) -> tuple[list, list[int]]:
    """Weak references to every Figure made, and the axes count of each clear() of a figure with axes."""
    import weakref

    from matplotlib.figure import Figure

    made: list[weakref.ref[Figure]] = []
    cleared: list[int] = []
    init, clear = Figure.__init__, Figure.clear

    def counting_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    def counting_clear(self, *args, **kwargs):
        cleared.extend([len(self.axes)] if self.axes else [])  # Figure() clears itself while empty
        clear(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "__init__", counting_init)
    monkeypatch.setattr(Figure, "clear", counting_clear)
    return made, cleared


def test_empty_findings_render_with_dashes(tmp_path, monkeypatch):
    """No analyzable signal: no beats, no HR, empty trend and tables; the report still renders and says so.

    The page and image figures are not cleared after saving (that rebuilt each of their axes, ticks and
    all, only to drop them: about a tenth of a render), and none is left alive after the render (bare
    Figures: no pyplot registry keeps them)."""
    import gc

    from ecgdesk.analysis.findings import (
        EctopySummary,
        Findings,
        HeartRateSummary,
        HRVSummary,
        Message,
        MessageLevel,
        PauseSummary,
        RecordingInfo,
        Summary,
    )
    from ecgdesk.reports import scanning_html

    summary = Summary(RecordingInfo(None, None, "csv", 250.0, 2500, 10.0, "ch1", ["ch1"]), None, None, 10.0,
                      0.0, 0.0, 0, {}, HeartRateSummary(), EctopySummary(), 0.0, 0.0, PauseSummary(),
                      HRVSummary())
    message = Message(MessageLevel.WARNING, "no_analyzable_signal", "No analyzable signal in the recording.")
    header = ReportHeader(patient_name="<b>Roe</b> & Co")
    ctx = ScanningReportContext(header, Findings(summary, messages=[message]))
    monkeypatch.setattr(scanning_html, "IMAGES", scanning_html._ImageCache(0))  # draw every image
    made, cleared = _count_figures(monkeypatch)
    out = render_scanning_report(ctx, tmp_path)
    assert cleared == [] and len(made) == 3  # two pages and the trend image
    gc.collect()
    assert [ref for ref in made if ref() is not None] == []
    assert out.page_count == 2 and _pdf_pages(out.pdf_path.read_bytes()) == 2  # summary and trend
    html = out.html_path.read_text(encoding="utf-8")
    assert "No analyzable signal in the recording." in html and "No episodes selected for strips." in html
    assert "&lt;b&gt;Roe&lt;/b&gt; &amp; Co" in html and "<b>Roe</b>" not in html  # escaped
    assert "Minimum</td><td class=\"v\">\u2014" in html


def test_two_channel_strips(mitdb208, tmp_path):
    from ecgdesk.reports.strips import strip_data, strip_height

    one, two = _ctx(mitdb208), _ctx(mitdb208, strip_channels=2)
    assert strip_height(one) == 30.0 and strip_height(two) == 50.0
    strip = select_event_strips(two.findings, STRIP_S)[0]
    data = strip_data(two, strip)
    assert data is not None and data.leads == ("MLII", "V1") and data.signal.shape[1] == 2
    assert report_content_digest(two) != report_content_digest(one)
    out = render_scanning_report(two, tmp_path, html=False)
    assert _pdf_pages(out.pdf_path.read_bytes()) == out.page_count
    runs = pdf_text(out.pdf_path.read_bytes())
    assert "V1" in runs and "MLII  25 mm/s  10 mm/mV" in runs
    with pytest.raises(InputError, match="strip_channels"):
        _ctx(mitdb208, strip_channels=4)
