"""The resting ECG report: a valid PDF at exact paper scale, digest rules, signed vs unsigned."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.analysis.ecg12.resting import analyze_resting
from ecgdesk.records.recording import Recording
from ecgdesk.reports.context import Addendum, ReportHeader, SignatureBlock
from ecgdesk.reports.ecg12_report import (
    PAGE_MM,
    Ecg12ReportContext,
    render_ecg12_report,
    report_content_digest,
)
from ecgdesk.reports.paper import MM_PER_INCH

SIGNED_AT = datetime(2026, 1, 2, 3, 4)


def _signature(digest: str) -> SignatureBlock:
    return SignatureBlock("Dr. A. Reader", "MD", SIGNED_AT, digest)

pydicom = pytest.importorskip("pydicom")


@pytest.fixture(scope="module")
def dicom_result():
    """pydicom's real 12-lead ECG (10 s, 1 kHz), read here without our reader to test the report alone."""
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    data = ds.waveform_array(0) / 1000.0  # uV -> mV
    names = [c.ChannelSourceSequence[0].CodeMeaning.replace("Lead ", "").split(" ")[0]
             for c in ds.WaveformSequence[0].ChannelDefinitionSequence]
    return analyze_resting(Recording.from_array(data.astype(np.float32), 1000.0, names))


def test_pdf_and_png_written(tmp_path: Path, dicom_result):
    ctx = Ecg12ReportContext(dicom_result, ReportHeader(patient_name="Doe, Jane", patient_id="MRN1", sex="F"))
    out = render_ecg12_report(ctx, tmp_path)
    pdf = out.pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert out.png_path.stat().st_size > 10_000
    # The page is A4 landscape: the PDF media box is 297 x 210 mm in points.
    box = re.search(rb"MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", pdf)
    assert box is not None
    assert float(box.group(1)) == pytest.approx(PAGE_MM[0] / MM_PER_INCH * 72, abs=0.01)
    assert float(box.group(2)) == pytest.approx(PAGE_MM[1] / MM_PER_INCH * 72, abs=0.01)
    assert not list(tmp_path.glob(".*.tmp*")), "temporary files left behind"


def test_digest_covers_content_not_signature(dicom_result):
    ctx = Ecg12ReportContext(dicom_result, ReportHeader(patient_id="MRN1"), over_read="Normal ECG.")
    unsigned = report_content_digest(ctx)
    ctx.signature = _signature(unsigned)
    assert report_content_digest(ctx) == unsigned
    ctx.over_read = "Normal ECG. Compared with prior: unchanged."
    changed = report_content_digest(ctx)
    assert changed != unsigned
    ctx.addenda = [Addendum("Rate is 61, not 60.", "Dr. A. Reader", SIGNED_AT)]
    assert report_content_digest(ctx) != changed


def test_unsigned_banner_only_when_unsigned(tmp_path: Path, dicom_result):
    # Matplotlib writes text into the PDF as glyph runs; the PNG pixels of the red banner are a robust check.
    import matplotlib.image as mpimg

    unsigned = render_ecg12_report(Ecg12ReportContext(dicom_result), tmp_path / "u")
    signed_ctx = Ecg12ReportContext(dicom_result, over_read="Sinus rhythm.")
    signed_ctx.signature = _signature(report_content_digest(signed_ctx))
    signed = render_ecg12_report(signed_ctx, tmp_path / "s")

    def red_pixels(path: Path) -> int:
        img = mpimg.imread(path)
        top = img[: img.shape[0] // 20]
        return int(np.sum((top[..., 0] > 0.6) & (top[..., 1] < 0.2) & (top[..., 2] < 0.3)))

    assert red_pixels(unsigned.png_path) > 200
    assert red_pixels(signed.png_path) == 0


def test_stress_report_renders(tmp_path: Path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis" / "stress"))
    from stress_synthetic import LEADS, synthetic_ecg

    from ecgdesk.analysis.stress.exercise import analyze_stress
    from ecgdesk.analysis.stress.protocol import bruce_protocol
    from ecgdesk.reports.stress_report import StressReportContext, render_stress_report, stress_report_digest

    sig, _ = synthetic_ecg(300, 250.0, lambda t: 70 + t / 10)
    result = analyze_stress(Recording.from_array(sig, 250.0, list(LEADS)),
                            bruce_protocol(60, "F", exercise_s=180, pretest_s=60, recovery_s=60))
    ctx = StressReportContext(result, ReportHeader(patient_id="S1"))
    out = render_stress_report(ctx, tmp_path)
    assert out.pdf_path.read_bytes().startswith(b"%PDF")
    ctx.interpretation = "Negative for ischemia at an adequate workload."
    assert stress_report_digest(ctx) != out.content_sha256


def test_stress_report_names_the_supervisor_of_its_protocol(tmp_path: Path):
    """The protocol file names who supervised the test (the billing's supervision); the report's head said
    "Supervising --" all the same, since no caller sets the context's supervising_physician."""
    import dataclasses
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis" / "stress"))
    from stress_synthetic import LEADS, synthetic_ecg

    from ecgdesk.analysis.stress.exercise import analyze_stress
    from ecgdesk.analysis.stress.protocol import bruce_protocol
    from ecgdesk.reports.stress_report import StressReportContext, render_stress_report, stress_report_digest

    sig, _ = synthetic_ecg(300, 250.0, lambda t: 70 + t / 10)
    protocol = dataclasses.replace(bruce_protocol(60, "F", exercise_s=180, pretest_s=60, recovery_s=60),
                                   supervisor="Dana Demo, MD", supervisor_npi="1234567893")
    result = analyze_stress(Recording.from_array(sig, 250.0, list(LEADS)), protocol)
    ctx = StressReportContext(result, ReportHeader(patient_id="S1"))
    out = render_stress_report(ctx, tmp_path)
    _, _, text = _drawn(out.pdf_path)
    assert "Supervising Dana Demo, MD (NPI 1234567893)" in text, text[:300]
    # the printed name is part of what the signature covers
    other = dataclasses.replace(result, protocol=dataclasses.replace(protocol, supervisor="Someone Else, MD"))
    assert stress_report_digest(StressReportContext(other, ctx.header)) != out.content_sha256



def test_stress_report_head_prints_the_patient_records_age_and_sex(tmp_path: Path):
    """The head printed the protocol file's "Age 55 Sex M" for a woman of 56, and the age-predicted maximum
    was 220 - 55: the record's age and sex are printed and used, the protocol's disagreement said."""
    import sys
    from datetime import date

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis" / "stress"))
    from stress_synthetic import LEADS, synthetic_ecg

    from ecgdesk.analysis.stress.exercise import analyze_stress
    from ecgdesk.analysis.stress.protocol import bruce_protocol
    from ecgdesk.analysis.stress.subject import stress_subject
    from ecgdesk.reports.stress_report import StressReportContext, render_stress_report

    sig, _ = synthetic_ecg(300, 250.0, lambda t: 70 + t / 10)
    protocol = bruce_protocol(55, "M", exercise_s=180, pretest_s=60, recovery_s=60)
    subject = stress_subject(protocol, date(1969, 9, 14), "F", date(2026, 1, 5))
    result = analyze_stress(Recording.from_array(sig, 250.0, list(LEADS)), protocol, subject=subject)
    assert result.age_predicted_max_hr == 220 - 56
    header = ReportHeader(patient_id="S1", birth_date=date(1969, 9, 14), sex="F")
    _, _, text = _drawn(render_stress_report(StressReportContext(result, header), tmp_path).pdf_path)
    assert "Age 56 Sex F" in text and "Age 55" not in text, text[:300]
    assert "Protocol file says age 55, sex M; the patient record is used" in text
    assert "of age-predicted maximum (164)" in text


# ------------------------------------------------------------------ many addenda: every signature printed
PT_PER_MM = 72 / 25.4
GRID_TOP_PT = (14.0 + 4 * 35.0) * PT_PER_MM  # render_ecg12_report's grid: 14 mm up, four 35 mm rows


def _many_signed(ctx, n_addenda: int = 6):
    """``ctx`` signed, then amended ``n_addenda`` times: each addendum a version with its own signature."""
    from datetime import timedelta

    ctx.addenda = [
        Addendum(f"Addendum text {i}: compared with the tracing of 2025-0{i}-01, lead placement checked, the "
                 f"rhythm and the intervals are unchanged; no new finding (item {i}).", "Dr. A. Reader",
                 SIGNED_AT + timedelta(hours=i))
        for i in range(1, n_addenda + 1)
    ]
    digest = "a" * 64
    first = SignatureBlock("Dr. A. Reader", "MD", SIGNED_AT, digest, "Interpreted by", 1)
    ctx.earlier_signatures = [first] + [
        SignatureBlock("Dr. B. Second", "MD", SIGNED_AT + timedelta(hours=i), digest, "Addendum by", i + 1)
        for i in range(1, n_addenda)
    ]
    ctx.signature = SignatureBlock("Dr. B. Second", "MD", SIGNED_AT + timedelta(hours=n_addenda), digest,
                                   "Addendum by", n_addenda + 1)
    ctx.header = ReportHeader(patient_name="Doe, Jane", patient_id="MRN1", study_id="7",
                              report_version=n_addenda + 1)
    return ctx


def _drawn(pdf: Path) -> tuple[int, list[tuple[int, float, float, str]], str]:
    """(pages, every text run as (page, x pt, y pt, text), all text: the runs of one line joined, as a
    ligature such as "fi" is a run of its own, then the lines) read back with pypdf."""
    from pypdf import PdfReader

    reader = PdfReader(pdf)
    runs: list[tuple[int, float, float, str]] = []
    for n, page in enumerate(reader.pages):
        def visit(text, cm, tm, font, size, n=n):
            if text.strip():
                runs.append((n, cm[4] + tm[4], cm[5] + tm[5], text))
        page.extract_text(visitor_text=visit)
    lines: dict[tuple[int, float], str] = {}
    for n, _, y, text in runs:
        lines[(n, round(y, 1))] = lines.get((n, round(y, 1)), "") + text
    return len(reader.pages), runs, " ".join(" ".join(lines.values()).split())


def _every_signature_and_addendum_whole(ctx, text: str) -> None:
    from ecgdesk.reports.context import signature_lines

    lines = signature_lines(ctx.signature, ctx.earlier_signatures, ctx.header.report_version)
    assert len(lines) == len(ctx.addenda) + 1
    for sig in lines:  # 21 CFR 11.50: meaning, printed name, date-time (and the version), each one
        assert f"{sig.who} {sig.when}" in text, sig
    for addendum in ctx.addenda:
        assert " ".join(addendum.text.split()) in text, addendum.text
    assert " ".join(ctx.interpretation.split()) in text


def test_twelve_lead_with_six_addenda_prints_every_signature_off_the_grid(tmp_path: Path, dicom_result):
    """Before: 7 signature lines from 45 mm down, the 4th to 7th drawn over the ECG grid, and addenda 3 to 6
    left out. Now the band keeps what fits and page 2 carries the over-read, each addendum, each signature."""
    over_read = ("Sinus rhythm at 61 bpm. Normal axis. Borderline first-degree AV block (PR 208 ms). "
                 "No acute ST-T change. Compared with the prior tracing: unchanged.")
    ctx = _many_signed(Ecg12ReportContext(dicom_result, over_read=over_read))
    out = render_ecg12_report(ctx, tmp_path)
    pages, runs, text = _drawn(out.pdf_path)
    assert pages == 2
    _every_signature_and_addendum_whole(ctx, text)
    first = [(y, t) for n, _, y, t in runs if n == 0 and ("by:" in t or t.startswith(("Physician", "Cont")))]
    assert first and all(y > GRID_TOP_PT + 2 for y, _ in first), first  # nothing over the grid
    width, height = PAGE_MM[0] * PT_PER_MM, PAGE_MM[1] * PT_PER_MM
    assert all(0 < x < width and 3 * PT_PER_MM < y < height for _, x, y, _ in runs), [
        r for r in runs if not (0 < r[1] < width and 3 * PT_PER_MM < r[2] < height)]
    # A short over-read with one signature stays one page, as before.
    short = Ecg12ReportContext(dicom_result, over_read="Normal ECG.")
    short.signature = _signature(report_content_digest(short))
    pages, _, text = _drawn(render_ecg12_report(short, tmp_path / "short").pdf_path)
    assert pages == 1 and "Physician over-read: Normal ECG." in text
    assert "Interpreted by: Dr. A. Reader" in text


def test_stress_report_with_six_addenda_prints_every_signature_on_the_page(tmp_path: Path):
    """Before: addenda 4 to 6 left out and the 7th signature 5 mm from the page's foot (an 8th off the
    page). Now the interpretation, each addendum and each signature are on the page after page one."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis" / "stress"))
    from stress_synthetic import LEADS, synthetic_ecg

    from ecgdesk.analysis.stress.exercise import analyze_stress
    from ecgdesk.analysis.stress.protocol import bruce_protocol
    from ecgdesk.reports.stress_report import StressReportContext, render_stress_report

    sig, _ = synthetic_ecg(300, 250.0, lambda t: 70 + t / 10)
    result = analyze_stress(Recording.from_array(sig, 250.0, list(LEADS)),
                            bruce_protocol(60, "F", exercise_s=180, pretest_s=60, recovery_s=60))
    ctx = _many_signed(StressReportContext(result, interpretation=(
        "Negative for ischemia at an adequate workload (85 % of the age-predicted maximum reached); no "
        "arrhythmia; normal blood pressure response; Duke score low risk.")))
    out = render_stress_report(ctx, tmp_path)
    pages, runs, text = _drawn(out.pdf_path)
    assert pages == 3  # page one, its continuation, the median complexes
    _every_signature_and_addendum_whole(ctx, text)
    assert "Representative median complexes" in " ".join(t for n, _, _, t in runs if n == 2)
    width = 210.0 * PT_PER_MM
    text_runs = [r for r in runs if not r[3].startswith("report v")]  # the footer has its own band
    assert all(0 < x < width and y > 10 * PT_PER_MM for _, x, y, _ in text_runs), [
        r for r in text_runs if r[2] <= 10 * PT_PER_MM]
