"""The HL7 v2 sender a delivery target belongs to: sending application (MSH-3) and sending facility (MSH-4).

A site with two EHRs has two interfaces, each sending orders under its own MSH-3/MSH-4 and expecting its own
application acknowledgements and results back. A target names the senders it belongs to as
``APPLICATION^FACILITY`` (the namespace ids, as the messages carry them; ``APPLICATION`` alone for a sender
whose MSH-4 is empty); matching is exact, since HD namespace ids are codes (HL7 v2.5.1 2.A.33), and a guess
(case, a missing facility) would send one hospital's acknowledgements or results to another.
"""

from __future__ import annotations

from ecgdesk.errors import InputError

#: what a namespace id may not hold: the HL7 delimiters (it is written back into MSH-5/MSH-6) and the list
#: separator of the stored column
_FORBIDDEN = set("|^~\\&,") | {"\r", "\n", "\t"}
MAX_PART = 64


def sender_key(application: str, facility: str) -> str:
    """The stored and displayed form of a sender: ``APPLICATION^FACILITY`` ('APP^' when MSH-4 is empty)."""
    return f"{application}^{facility}"


def describe(application: str, facility: str) -> str:
    """A sender in words for a record or an audit entry, also where MSH-3 is empty."""
    if not application and not facility:
        return "(none: MSH-3 and MSH-4 are empty)"
    return f"{application or '(empty MSH-3)'}^{facility}"


def parse_sender(text: str) -> str:
    """One configured sender, checked: ``APP^FACILITY`` or ``APP`` (an empty MSH-4), as :func:`sender_key`."""
    application, _, facility = text.strip().partition("^")
    application, facility = application.strip(), facility.strip()
    if not application:
        raise InputError("sender", f"give the sending application (MSH-3) as APP^FACILITY, got {text!r}")
    for part, field in ((application, "MSH-3"), (facility, "MSH-4")):
        if len(part) > MAX_PART:
            raise InputError("sender", f"{field} {part[:20]!r}... is longer than {MAX_PART} characters")
        bad = sorted(set(part) & _FORBIDDEN)
        if bad:
            raise InputError("sender", f"{field} {part!r} holds {''.join(bad)!r}: name the namespace id only "
                             "(APP^FACILITY)")
    return sender_key(application, facility)


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
