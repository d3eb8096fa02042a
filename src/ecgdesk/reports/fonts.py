"""The fonts a report prints with: DejaVu Sans, then fallbacks for characters it lacks.

A signed report must print what was signed. DejaVu Sans (shipped with matplotlib, so always there) covers
Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and much of Arabic, not CJK, Devanagari, Thai and many
other scripts a physician may paste. Each further family is one that adds characters: matplotlib's own
(STIX) and the system's scalable fonts as fontconfig lists them (Debian's ``fonts-noto-core``,
``fonts-noto-cjk``, ``fonts-liberation``...; nothing is downloaded). A character none of them has cannot
be printed and is refused where the text is entered (:func:`check_printable`), never signed as a blank box.

Matplotlib looks the whole family list up for every text it measures and draws (a dozen lookups a text),
although almost every text of a report is DejaVu Sans alone: :func:`fit_fonts` gives such texts DejaVu
Sans only, just before a figure is saved, and leaves the list to the others (same glyphs, same output).

Matplotlib's "Last Resort" font (3.10+) maps every code point to a placeholder box, and a colour bitmap
font (an emoji font) has no outlines to embed: neither counts as printing the character.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ecgdesk.errors import InputError

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.text import Text

BASE = "DejaVu Sans"
#: Families that print placeholders for characters they lack, never the character itself.
_PLACEHOLDERS = ("Last Resort",)


@dataclass(frozen=True)
class Fallback:
    #: The families in the order matplotlib tries them for each character (the first is :data:`BASE`).
    families: tuple[str, ...]
    #: Every code point one of them prints.
    covered: frozenset[int]
    #: The code points :data:`BASE` prints itself (empty: every text keeps the whole list).
    base: frozenset[int] = frozenset()


def _charmap(path: str) -> set[int] | None:
    """The code points of the scalable font at ``path``, None for one matplotlib cannot use."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return None
    if not font.scalable:  # a bitmap (colour emoji) font: nothing to embed in a PDF
        return None
    return set(font.get_charmap())


@lru_cache(maxsize=1)
def fallback() -> Fallback:
    """The families of the report text: :data:`BASE`, then each installed family (Noto first, then by
    name) that prints characters the ones before it do not. Found once per process."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts(fontext="ttf"):  # fontconfig's list: fonts added since
        if path not in known and path.lower().endswith((".ttf", ".otf")):  # matplotlib's cache was made
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    regular: dict[str, str] = {}
    for entry in sorted(manager.ttflist, key=lambda e: e.fname):
        if entry.style == "normal" and entry.weight in (400, "normal", "regular"):
            regular.setdefault(entry.name, entry.fname)
    base = _charmap(regular[BASE]) if BASE in regular else None
    if base is None:
        raise RuntimeError(f"matplotlib's {BASE} font is missing: the installation is broken")
    families, covered = [BASE], set(base)
    order = sorted(
        (name for name in regular if name != BASE and not name.startswith(_PLACEHOLDERS)),
        key=lambda name: (not name.startswith("Noto Sans"), name),
    )
    for name in order:
        points = _charmap(regular[name])
        if points and not points <= covered:
            families.append(name)
            covered |= points
    return Fallback(tuple(families), frozenset(covered), frozenset(base))


@contextmanager
def report_fonts() -> Iterator[None]:
    """Draw the text inside with the fallback families (matplotlib picks, per character, the first
    family that has it)."""
    import matplotlib

    with matplotlib.rc_context({"font.family": list(fallback().families)}):
        yield


def fit_fonts(fig: Figure) -> None:
    """Give DejaVu Sans alone to each text of ``fig`` that has the fallback list and only characters
    DejaVu Sans prints; call it just before saving, inside :func:`report_fonts`.

    Matplotlib draws each character with the first family of the list that has it, so such a text is
    drawn exactly as before, without looking up the other families for it. A text still empty here (a
    tick label is filled in while drawing), mathtext and any other character keep the whole list."""
    from matplotlib import cbook

    fonts = fallback()
    every = list(fonts.families)
    if len(every) < 2 or not fonts.base:
        return
    for text in _texts(fig):
        value = text.get_text()
        if (value and text.get_fontfamily() == every and not text.get_usetex()
                and not cbook.is_math_text(value)
                and all(ord(char) in fonts.base or char == "\n" for char in value)):
            text.set_fontfamily(BASE)


def _texts(artist: Artist) -> Iterator[Text]:
    """The texts under ``artist``, axis labels included but not the ticks: asking an axis for its
    children makes its ticks (slow, and pointless on the page's axes, which hide them)."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    if isinstance(artist, Text):
        yield artist
    if isinstance(artist, Axis):
        yield artist.label
        yield artist.offsetText
        return
    for child in artist.get_children():
        yield from _texts(child)


def _needs_glyph(char: str) -> bool:
    # Line breaks, tabs and format characters (zero-width joiners, direction marks) draw nothing.
    return unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp")


def unprintable(text: str) -> list[str]:
    """The characters of ``text`` no report font prints, each once, in order."""
    covered = fallback().covered
    seen: dict[str, None] = {}
    for char in text:
        if ord(char) not in covered and not char.isspace() and _needs_glyph(char):
            seen.setdefault(char)
    return list(seen)


def _named(missing: list[str]) -> str:
    """The first five characters the fonts lack, each with its code point and name, and how many more."""
    named = ", ".join(
        f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')})" for c in missing[:5]
    )
    return named + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")


def check_printable(field: str, text: str) -> str:
    """``text`` if the report fonts print every character of it, else :class:`InputError` naming the
    field and the first characters they cannot print (a signed report must show what was signed)."""
    missing = unprintable(text)
    if missing:
        raise InputError(
            field,
            f"the report cannot print {_named(missing)}: no installed font has "
            f"{'it' if len(missing) == 1 else 'them'}; remove or replace "
            f"{'it' if len(missing) == 1 else 'them'} (or install a font that has "
            f"{'it' if len(missing) == 1 else 'them'}, e.g. Debian's fonts-noto-core or fonts-noto-cjk)",
        )
    return text


def check_header_printable(fields: dict[str, str]) -> None:
    """Refuse to render a report whose identification (``fields``: the patient's name, the ordering
    physician...) the fonts cannot print: the report would be signed with blank boxes for the patient's
    name. Unlike a typed text, a name is not the user's to change: the remedy is a font on this host."""
    for field, text in fields.items():
        missing = unprintable(text)
        if missing:
            raise InputError(
                field,
                f"the report cannot print {_named(missing)}: no installed font has "
                f"{'it' if len(missing) == 1 else 'them'}, and the report would show blank boxes; install a "
                "font that has them on the host that renders reports (e.g. Debian's fonts-noto-cjk or "
                "fonts-noto-core), restart the service and its workers, then render the report again",
            )
