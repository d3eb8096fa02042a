"""The physician's text of a one-page report in full, on continuation pages when it does not fit page one.

The resting 12-lead and the stress report draw the over-read, the addenda and the signatures in a fixed
band of their first page. With several addenda that band overflowed: the 12-lead printed signature lines
over the ECG grid and left out every addendum after the second; the stress report left out addenda after
the third and moved signature lines to the page's edge and then off it. 21 CFR 11.50 wants every signature
(printed name, date-time, meaning) on the signed record, and an addendum is part of it: when the band is
too small, page one says where the rest is, and the pages made here carry the interpretation, every
addendum and every signature, whole, in reading order.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure

from ecgdesk.reports.context import Addendum, SignatureLine
from ecgdesk.reports.paper import MM_PER_INCH

MARGIN_MM = 15.0
PT_MM = 25.4 / 72.0
#: DejaVu Sans' widest common glyphs are about 0.6 em: wrapping at this width never runs past the margin.
EM_SHARE = 0.6


@dataclass(frozen=True)
class _Line:
    text: str
    size: float = 8.0
    bold: bool = False
    gap_mm: float = 0.0  # space before the line


def wrap(text: str, size_pt: float, width_mm: float) -> list[str]:
    """``text`` in lines that fit ``width_mm`` at ``size_pt`` (paragraphs kept, long words broken)."""
    chars = max(20, int(width_mm / (size_pt * PT_MM * EM_SHARE)))
    out: list[str] = []
    for paragraph in text.splitlines() or [""]:
        out.extend(textwrap.wrap(paragraph, chars, break_long_words=True, break_on_hyphens=False) or [""])
    return out


def fits(text: str, chars: int) -> bool:
    """Whether ``text`` is one line of at most ``chars`` characters (what a fixed band can show whole)."""
    return "\n" not in text.strip() and len(text.strip()) <= chars


def _lines(
    label: str, text: str, addenda: Sequence[Addendum], signatures: Sequence[SignatureLine], width: float
) -> list[_Line]:
    lines = [_Line(label, 9.0, True)]
    lines += [_Line(t) for t in wrap(text.strip() or "(none)", 8.0, width)]
    for i, addendum in enumerate(addenda, 1):
        head = f"Addendum {i} ({addendum.author}, {addendum.at:%Y-%m-%d %H:%M} UTC)"
        lines.append(_Line(head, 8.0, True, 2.5 if i > 1 else 4.0))
        lines += [_Line(t) for t in wrap(addendum.text, 8.0, width)]
    if signatures:
        lines.append(_Line("Signatures", 9.0, True, 4.0))
        for sig in signatures:  # oldest first, the version's own last and bold (as on page one)
            lines += [_Line(t, 8.0, sig.current, 1.0) for t in wrap(f"{sig.who}   {sig.when}", 8.0, width)]
    return lines


def continuation_pages(
    page_mm: tuple[float, float],
    title: str,
    label: str,
    text: str,
    addenda: Sequence[Addendum],
    signatures: Sequence[SignatureLine],
    footer: str,
) -> list[Figure]:
    """Pages (figures of ``page_mm``) with ``title`` on each, then ``label`` and ``text``, every addendum
    and every signature, flowing from page to page; ``footer`` (version and digest) on each page."""
    w, h = page_mm
    lines = _lines(label, text, addenda, signatures, w - 2 * MARGIN_MM)
    pages: list[list[tuple[_Line, float]]] = [[]]
    y = h - MARGIN_MM - 8.0  # below the title
    for line in lines:
        step = line.gap_mm + line.size * PT_MM * 1.45
        if y - step < MARGIN_MM + 6.0 and pages[-1]:  # the footer's band stays clear
            pages.append([])
            y = h - MARGIN_MM - 8.0
            step -= line.gap_mm
        y -= step
        pages[-1].append((line, y))
    figures = []
    for placed in pages:
        fig = Figure(figsize=(w / MM_PER_INCH, h / MM_PER_INCH))
        fig.text(MARGIN_MM / w, 1 - MARGIN_MM / h, f"{title}: continued from page 1", fontsize=9,
                 weight="bold", va="top")
        for line, at in placed:
            fig.text(MARGIN_MM / w, at / h, line.text, fontsize=line.size,
                     weight="bold" if line.bold else "normal")
        fig.text(1 - MARGIN_MM / w, (MARGIN_MM - 6.0) / h, footer, fontsize=5.5, ha="right", color="#555555")
        figures.append(fig)
    return figures
