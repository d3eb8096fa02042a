"""HL7 v2 text: escaping our own text, reading escape sequences, a message's own delimiters read as the
standard ones, and a message split into segments, fields and components (what ``hl7v2`` and its readers
build and parse with)."""

from __future__ import annotations

import re

from ecgdesk.errors import InputError
from ecgdesk.interop.mllp import UNDECODABLE

__all__ = ["component", "escape", "field_at", "split_segments", "standard_delimiters", "unescape"]

_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


#: Control characters other than tab and line breaks: raw, a VT or FS would start or end an MLLP frame at
#: the receiver (cutting the message short) and a NUL ends a C string; sent as hex data (``\\X0B\\``).
_OUR_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(text: str) -> str:
    """``text`` safe inside one HL7 field (delimiters as escape sequences, line breaks as ``\\.br\\``,
    other control characters as hex data)."""
    for raw, seq in _ESCAPES:
        text = text.replace(raw, seq)
    text = _OUR_CONTROL.sub(lambda m: f"\\X{ord(m.group()):02X}\\", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\.br\\")


#: One escape sequence of an HL7 v2 text field: the delimiters (F S T R E), a line break (.br, .sp), hex
#: data (Xhh...) and highlighting (H, N); other formatting commands are dropped.
_ESCAPE_SEQUENCE = re.compile(r"\\(F|S|T|R|E|\.br|\.sp\d*|X[0-9A-Fa-f]*|H|N|\.[a-z]{2}[+-]?\d*)\\")
_HEX_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNESCAPED = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\", "H": "", "N": ""}


def _unescaped(match: re.Match[str]) -> str:
    sequence = match.group(1)
    if sequence in _UNESCAPED:
        return _UNESCAPED[sequence]
    if sequence.startswith((".br", ".sp")):
        return "\n"
    if sequence.startswith("X"):
        digits = sequence[1:]
        if len(digits) % 2:
            return match.group(0)
        data = bytes.fromhex(digits)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        # \\X0D0A\\ is how some senders break a line; other control bytes are no text to store
        return _HEX_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return ""  # .in, .ti, .sk, .ce, .fi, .nf: layout of formatted text, nothing to store


def unescape(text: str) -> str:
    """``text`` with its escape sequences read, in one pass: ``\\E\\F\\E\\`` is ``\\F\\``, not ``\\|\\``."""
    return _ESCAPE_SEQUENCE.sub(_unescaped, text) if "\\" in text else text


_STANDARD = {"F": "|", "S": "^", "R": "~", "E": "\\", "T": "&"}
_STANDARD_ESCAPED = {char: f"\\{name}\\" for name, char in _STANDARD.items()}


def standard_delimiters(text: str, source: str) -> str:
    """``text`` (from ``MSH``) with the delimiters its MSH-1 and MSH-2 declare rewritten as the standard
    ``|^~\\&``, so one reader reads every message (HL7 v2.5.1 2.5.4: the receiver takes them from the
    message). A character that is a standard delimiter but data here is escaped; an escape sequence for a
    delimiter (``\\F\\``) stands for this message's delimiter and becomes that character."""
    if len(text) < 8 or text[3] in "\r\n" or text[3].isalnum():
        raise InputError("MSH-1", "expected the field separator (e.g. '|') and MSH-2 after 'MSH'", source)
    field = text[3]
    end = text.find(field, 4)
    encoding = text[4:end] if end >= 0 else ""
    if field + encoding[:4] == "|^~\\&":
        return text
    delimiters = field + encoding[:4]
    if (len(encoding) not in (4, 5) or len(set(delimiters)) != 5
            or any(c.isalnum() or c in "\r\n " for c in encoding)):
        raise InputError("MSH-2", f"expected four distinct encoding characters (component, repetition, "
                                  f"escape, subcomponent; e.g. '^~\\&'), got {encoding[:10]!r}", source)
    component, repetition, escape_char, subcomponent = encoding[0], encoding[1], encoding[2], encoding[3]
    own = {"F": field, "S": component, "R": repetition, "E": escape_char, "T": subcomponent}
    single = {ord(char): _STANDARD_ESCAPED[char] for char in _STANDARD.values()}
    single.update({ord(own[name]): char for name, char in _STANDARD.items()})
    sequence = re.compile(f"{re.escape(escape_char)}([^\r{re.escape(escape_char)}]*){re.escape(escape_char)}")
    parts = sequence.split(text[end:])
    for at in range(1, len(parts), 2):  # the escape sequences, between the plain runs
        name = parts[at]
        parts[at] = (_STANDARD_ESCAPED.get(own[name], own[name]) if name in own else f"\\{name}\\")
    for at in range(0, len(parts), 2):
        parts[at] = parts[at].translate(single)
    return "MSH|^~\\&" + "".join(parts)


#: C0 control characters but TAB, DEL, and the C1 controls (U+0080-U+009F); CR (the segment separator) is
#: split off before, and the file's LF/CRLF line ends were turned into CR. A C1 control is what a
#: Windows-1252 file's curly quote or ellipsis becomes when read as the 8859/1 it is taken for (no text
#: character of 8859/1 lies at 0x80-0x9F): stored, "O'Brien" became "O\x92Brien".
_CONTROL_IN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


#: the start of a UTF-16 message (with or without its byte order mark) read a byte at a time
_UTF16 = re.compile("(\xff\xfe|\xfe\xff)|M\x00S\x00H\x00|\x00M\x00S\x00H")


def split_segments(text: str, source: str) -> dict[str, list[list[str]]]:
    """Segments by name, each a list of its raw fields (index 0 = name), after a structural check."""
    text = text.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x0b\x1c").lstrip("\ufeff")
    if not text.startswith("MSH"):
        if _UTF16.match(text):  # decoded as 8859/1, a byte at a time: 'ÿþM\x00S\x00H\x00'
            raise InputError("MSH-18", "the message is UTF-16 text (two bytes a character), which this "
                                       "receiver does not read: send it as UTF-8 (MSH-18 UNICODE UTF-8)",
                             source)
        raise InputError("MSH", "an HL7 v2 message starts with an MSH segment", source)
    text = standard_delimiters(text, source)
    out: dict[str, list[list[str]]] = {}
    for raw in filter(None, text.split("\r")):
        name = raw[:3]
        if not re.fullmatch(r"[A-Z][A-Z0-9]{2}", name) or (len(raw) > 3 and raw[3] != "|"):
            raise InputError("segment", f"not an HL7 segment: {raw[:20]!r}", source)
        fields = raw.split("|")
        if name == "MSH":
            fields = ["MSH", "|", *fields[1:]]
        for index, value in enumerate(fields):
            if UNDECODABLE in value:
                raise InputError(f"{name}-{index}", "bytes that are not text in the message's character "
                                                    "set (MSH-18)", source)
            control = _CONTROL_IN.search(value)
            if control:  # a NUL or other control byte: a damaged file, never a value to store
                code = ord(control.group())
                hint = ("; in a file without MSH-18, read as 8859/1: Windows-1252 text? send it as UTF-8, "
                        "MSH-18 UNICODE UTF-8") if code >= 0x80 else ""
                raise InputError(f"{name}-{index}", f"contains the control character {code:#04x} (HL7 v2 "
                                 f"text carries none; escape it as \\Xhh\\{hint})", source)
        out.setdefault(name, []).append(fields)
    return out


def field_at(fields: list[str], index: int) -> str:
    """Field ``index`` of a segment read by :func:`split_segments`; '' past its last field."""
    return fields[index] if index < len(fields) else ""


def single(fields: list[str], index: int, name: str, source: str) -> str:
    """Field ``index`` of a segment, one that holds a single value in 2.5.1: a repetition (``~``) in it is
    refused naming it, ``name`` (until 2026-12-07 the first was read and the others dropped unsaid: a
    second placer number, test, indication or sex)."""
    value = field_at(fields, index)
    if "~" in value:
        raise InputError(name, f"{value.count('~') + 1} repetitions (~) in a field that holds one value; "
                               "send one (the others would be dropped)", source)
    return value


def component(value: str, index: int, sub: int = 1) -> str:
    """Component ``index`` (1-based) of the field's first repetition, and subcomponent ``sub`` of it: a 2.5
    family name is ``surname&prefix&own surname...``, an assigning authority ``namespace&OID&ISO``."""
    parts = value.split("~")[0].split("^")
    if index - 1 >= len(parts):
        return ""
    subs = parts[index - 1].split("&")
    return unescape(subs[sub - 1]) if sub - 1 < len(subs) else ""
