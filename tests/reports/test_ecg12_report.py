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
