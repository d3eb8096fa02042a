"""The HL7 v2 sender a delivery target belongs to: sending application (MSH-3) and sending facility (MSH-4).

A site with two EHRs has two interfaces, each sending orders under its own MSH-3/MSH-4 and expecting its own
application acknowledgements and results back. A target names the senders it belongs to as
``APPLICATION^FACILITY`` (the namespace ids, as the messages carry them; ``APPLICATION`` alone for a sender
whose MSH-4 is empty); matching is exact, since HD namespace ids are codes (HL7 v2.5.1 2.A.33), and a guess
(case, a missing facility) would send one hospital's acknowledgements or results to another.

A namespace id holding an HL7 delimiter is written in the message with its escape sequence (MSH-3
``EHR\\S\\ONE`` is the application ``EHR^ONE``), and so it is here: a key is the two namespace ids escaped
(HL7 v2.5.1 2.7.4) and joined by a plain ``^``, so it splits back at the right place
(:func:`sender_parts`) and an administrator writes a sender as the message shows it. The ids are read and
written unescaped; escaping them once more on the way out (``\\E\\S\\E\\``) would rename the sender.
"""

from __future__ import annotations

import re

from ecgdesk.errors import InputError
from ecgdesk.interop.hl7v2_text import component, escape, field_at, split_segments, unescape

#: what a namespace id may not hold once its escape sequences are read out: the HL7 delimiters written raw
#: (they would split it) and the list separator of the stored column
_FORBIDDEN = set("|^~\\&,") | {"\r", "\n", "\t"}
#: the escape sequences of the delimiters, which a configured sender may hold as its messages do
_DELIMITER_ESCAPE = re.compile(r"\\[FSTRE]\\")
MAX_PART = 64


def sender_key(application: str, facility: str) -> str:
    """The stored and displayed form of a sender, from its unescaped namespace ids: ``APPLICATION^FACILITY``
    ('APP^' when MSH-4 is empty), each escaped as in the message."""
    return f"{escape(application)}^{escape(facility)}"


def sender_parts(key: str) -> tuple[str, str]:
    """(application, facility) of a stored sender key, unescaped: what goes into MSH-5/MSH-6 (escaped once
    there, by the builder). A key stored before keys were escaped holds no '\\' and reads the same."""
    application, _, facility = key.partition("^")
    return unescape(application), unescape(facility)


def describe(application: str, facility: str) -> str:
    """A sender in words for a record or an audit entry, also where MSH-3 is empty."""
    if not application and not facility:
        return "(none: MSH-3 and MSH-4 are empty)"
    return f"{escape(application) or '(empty MSH-3)'}^{escape(facility)}"


def parse_sender(text: str) -> str:
    """One configured sender, checked: ``APP^FACILITY`` or ``APP`` (an empty MSH-4), as :func:`sender_key`."""
    application, _, facility = text.strip().partition("^")
    application, facility = application.strip(), facility.strip()
    if not application:
        raise InputError("sender", f"give the sending application (MSH-3) as APP^FACILITY, got {text!r}")
    for part, field in ((application, "MSH-3"), (facility, "MSH-4")):
        if len(part) > MAX_PART:
            raise InputError("sender", f"{field} {part[:20]!r}... is longer than {MAX_PART} characters")
        bad = sorted(set(_DELIMITER_ESCAPE.sub("", part)) & _FORBIDDEN)
        if bad:
            raise InputError("sender", f"{field} {part!r} holds {''.join(bad)!r}: name the namespace id only "
                             "(APP^FACILITY; a delimiter in it as the message escapes it, e.g. \\S\\)")
    return sender_key(unescape(application), unescape(facility))


def parse_senders(values: list[str]) -> tuple[str, ...]:
    """Configured senders, checked, in their given order without repeats."""
    keys: list[str] = []
    for value in values:
        key = parse_sender(value)
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def stored(text: str) -> tuple[str, ...]:
    """The senders of a ``delivery_targets.senders`` value ('' for none)."""
    return tuple(part for part in text.split(",") if part)


def addressee(ack: str) -> str:
    """Whom an ACK we built is addressed to (MSH-5^MSH-6, as :func:`describe` shows a sender); '' where
    it has no readable MSH."""
    try:
        msh = split_segments(ack, "application ACK")["MSH"][0]
    except InputError:
        return ""
    return describe(component(field_at(msh, 5), 1), component(field_at(msh, 6), 1))


def misaddressed(ack: str, target: str, senders: str) -> str | None:
    """Why the application ACK ``ack`` must not go to the target ``target`` whose stored senders are
    ``senders``: the target does not name its addressee (MSH-5^MSH-6, the sender of the message it answers).
    A version before migration 0022 queued each one for every HL7 target, and a target's senders may have
    changed since; None where it may go."""
    to = addressee(ack)
    if to in stored(senders):
        return None
    return (f"not sent: target {target} does not belong to sender {to or '(no readable MSH)'}, whom this "
            "application ACK answers (queued for every HL7 target before migration 0022, or the target's "
            "senders changed since)")
