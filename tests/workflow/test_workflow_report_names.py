"""The patient's name on the report: a long name with Latin-extended letters prints whole, and a name the
host's fonts cannot print (Chinese on a host without a CJK font) is not rendered as blank boxes into a
report the physician signs: the render is refused naming the field, the characters and the fonts to
install; on both backends."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from workflow_builders import fake_analyzer, request

from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.reporting import report_study
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.views import show_study

LONG = "Wojciechowska-Szczepańska-Żółkiewska, Małgorzata Ağaoğlu İşbilir"


def _analysed(store: Store, record: Path, name: str, patient_id: str) -> int:
    study_id = create_study(store, request(name=name, patient_id=patient_id), "tech")
    import_recording(store, study_id, record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    return study_id


def test_a_name_the_fonts_cannot_print_is_refused_and_a_long_one_prints_whole(
    store: Store, tiny_record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the report of 王, 小明 was rendered (and could be signed) with the name as missing glyphs
    on a host without a CJK font; now the render is refused (the report job fails with it, the page and
    the command say it), nothing is stored, and the study stays analyzed."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from ecgdesk.reports import fonts

    long_id = _analysed(store, tiny_record, LONG, "P1")
    info = report_study(store, long_id, "tech")
    text = " ".join(PdfReader(io.BytesIO(info.pdf_path.read_bytes())).pages[0].extract_text().split())
    assert "Wojciechowska-Szczepańska-Żółkiewska" in text and "Ağaoğlu İşbilir" in text, text[:400]

    only = fonts.Fallback(
        ("DejaVu Sans",), frozenset(FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap())
    )
    monkeypatch.setattr(fonts, "fallback", lambda: only)
    cjk_id = _analysed(store, tiny_record, "王, 小明", "P2")
    with pytest.raises(InputError) as refused:
        report_study(store, cjk_id, "tech")
    assert refused.value.field == "patient_name"
    assert "'王' (U+738B" in refused.value.reason and "fonts-noto-cjk" in refused.value.reason
    view = show_study(store, cjk_id)
    assert view.status == "analyzed" and not view.reports
