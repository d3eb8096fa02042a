"""Checks of a FHIR body as a whole before its order or patient is read: its text, and the elements that
change what the resources mean.

FHIR JSON is UTF-8 (RFC 8259 8.1; FHIR R4 2.6.2), and its strings hold no control character but tab, CR and
LF. A body in another encoding arrives here with U+FFFD where its bytes were not UTF-8, and a C1 character
(U+0080-U+009F) is no text either: it is where a Windows-1252 curly quote lands when an upstream system read
the file as 8859-1 (HL7 v2 text is refused for both alike, by field).

A ``modifierExtension`` or ``implicitRules`` changes the meaning of the element holding it, and FHIR R4
(2.4.1.1 and 2.1.0.6) forbids processing one the receiver does not know: a ServiceRequest with a modifier
saying "do not perform" or "draft" would be worked as an order. None is known here, so each is refused
naming where it is. So is a contained resource that contains resources itself (dom-2): until 2026-12-08
it was read without complaint, its inner resources out of reach of any reference.
"""

from __future__ import annotations

import re
from typing import Any

from ecgdesk.errors import InputError

_NO_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f]")
#: the start of a UTF-16 JSON body read a byte at a time (with or without its byte order mark)
UTF16_JSON = re.compile("(\xff\xfe|\xfe\xff)?(\x00[{\\[]|[{\\[]\x00)")
_MODIFIERS = ("modifierExtension", "implicitRules")


def refuse_utf16(payload: str, source: str) -> None:
    if UTF16_JSON.match(payload):
        raise InputError("json", "the body is UTF-16 text (two bytes a character); FHIR JSON is UTF-8: send "
                                 "it as UTF-8", source)


def _modifier(path: str, key: str, value: Any) -> str:
    if key == "implicitRules":
        return f"implicitRules {str(value)[:200]!r}"
    urls = [str(e.get("url"))[:200] for e in value if isinstance(e, dict)] if isinstance(value, list) else []
    return f"modifierExtension {', '.join(urls) or '(no url)'}"


def _within_contained(path: str) -> bool:
    """Whether the element at ``path`` is (in) a contained resource: ``contained[0]``,
    ``entry[1].resource.contained[0].x``."""
    return path.startswith("contained[") or ".contained[" in path


def refuse_unreadable(document: Any, source: str) -> None:
    """Refuse, naming the element, a string that is no text (a control character, bytes not UTF-8), a
    modifier this receiver does not know and a contained resource with contained resources of its own
    (walked without recursion: the depth is the sender's)."""
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if "\ufffd" in value:
                raise InputError(path or "resource", "bytes that are not UTF-8 (FHIR JSON is UTF-8; a "
                                                     "Windows-1252 or 8859-1 file?)", source)
            if _NO_TEXT.search(value):
                why = ("a control character (e.g. NUL, or U+0080-U+009F: a Windows-1252 character read as "
                       "8859-1) is not allowed in a FHIR string")
                raise InputError(path or "resource", why, source)
        elif isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if key in _MODIFIERS and item:
                    raise InputError(where, f"{_modifier(where, key, item)} changes what the resource means "
                                            "and is not known here; FHIR forbids ignoring it", source)
                if key == "contained" and item and _within_contained(path):
                    raise InputError(where, "a contained resource contains resources of its own; FHIR "
                                            "forbids nested contained resources (dom-2): contain them all in "
                                            "the resource at the top", source)
                pending.append((where, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
