"""The report fonts: DejaVu Sans alone for the texts it prints, the fallback list for the others."""

from __future__ import annotations

import io

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from pypdf import PdfReader

from ecgdesk.reports.fonts import BASE, fallback, fit_fonts, report_fonts
from ecgdesk.reports.paper import mm_axes

PLAIN = "Sinus rhythm, Ω é ß Ж \u2014 72 bpm"  # Latin, Greek, Cyrillic, an em dash: all DejaVu Sans
WATCH = "Button \u231a pressed at \u24b6"  # DejaVu Sans has neither: STIX (matplotlib's own) prints them


def _page(fit: bool) -> tuple[Figure, bytes, bytes]:
    """One report-like page drawn inside report_fonts, with or without fit_fonts: (figure, PNG, PDF)."""
    with report_fonts():
        fig = Figure(figsize=(4.0, 2.0))
        ax = mm_axes(fig, 0.0, 0.0, 101.6, 50.8)
        ax.text(5, 40, PLAIN, fontsize=8)
        ax.text(5, 32, PLAIN, fontsize=8, weight="bold")
        ax.text(5, 24, WATCH, fontsize=8)
        ax.text(5, 16, "Content SHA-256: 0f1e", fontsize=6, family="monospace")
        ax.text(5, 8, "$\\alpha$ 1 mV", fontsize=8)  # mathtext: drawn by its own fonts
        ax.text(5, 4, "line one\nline two", fontsize=8)
        if fit:
            fit_fonts(fig)
        png, pdf = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=100)
        with PdfPages(pdf, metadata={"CreationDate": None}) as pages:
            pages.savefig(fig)
    return fig, png.getvalue(), pdf.getvalue()


def test_a_text_dejavu_sans_prints_alone_is_drawn_with_it_alone_and_exactly_as_before() -> None:
    """Each family of the fallback list was looked up for every text (a quarter of a report's rendering
    time); a text made only of DejaVu Sans characters now has DejaVu Sans alone. The others keep the list
    (the watch and the circled letter still print from STIX), an explicit family (monospace) and mathtext
    are left alone, and the page is the same, pixel for pixel and in the PDF's text."""
    assert len(fallback().families) > 1 and fallback().base  # matplotlib's STIX is always there
    fig, png, pdf = _page(fit=True)
    families = {text.get_text(): text.get_fontfamily() for text in fig.axes[0].texts}
    every = list(fallback().families)
    assert families[PLAIN] == [BASE] and families["line one\nline two"] == [BASE]
    assert families[WATCH] == every and families["$\\alpha$ 1 mV"] == every
    assert families["Content SHA-256: 0f1e"] == ["monospace"]
    _, png_before, pdf_before = _page(fit=False)
    assert png == png_before
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert text == PdfReader(io.BytesIO(pdf_before)).pages[0].extract_text()
    assert "\u231a" in text and "\u24b6" in text and "Ж" in text, text


def test_without_the_base_font_s_characters_every_text_keeps_the_list(monkeypatch) -> None:
    """A fallback built without DejaVu Sans's own characters (as the tests that limit the fonts build it)
    narrows nothing: a text is never given a font that may lack one of its characters."""
    from ecgdesk.reports import fonts

    only = fonts.Fallback(fallback().families, fallback().covered)
    monkeypatch.setattr(fonts, "fallback", lambda: only)
    fig, _, _ = _page(fit=True)
    assert all(text.get_fontfamily() != [BASE] for text in fig.axes[0].texts)
