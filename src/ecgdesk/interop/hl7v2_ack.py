"""HL7 v2 acknowledgement modes (v2.5 chapter 2.9): original mode, or enhanced mode when MSH-15 (accept
acknowledgement type) or MSH-16 (application acknowledgement type) is valued.

Original mode: one ACK, AA/AE/AR, after the message was processed. Enhanced mode: an accept ACK (MSA-1 CA
commit accept, CE commit error, CR commit reject) once the message is in safe storage, sent only when MSH-15's
condition holds, and an application ACK (AA/AE/AR) as a message of its own, later, only when MSH-16's holds.
Which condition holds is decided here; storing the message and queueing the application ACK is the
workflow's (``workflow.interop_acks``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ecgdesk.errors import InputError
from ecgdesk.interop.hl7v2_text import component, field_at, split_segments


class AckCondition(enum.StrEnum):
    """HL7 table 0155: when an acknowledgement is wanted."""

    ALWAYS = "AL"
    NEVER = "NE"
    ERROR = "ER"  # error/reject conditions only
    SUCCESS = "SU"  # successful completion only

    def wants(self, success: bool) -> bool:
        """Whether an acknowledgement of an outcome that was (or was not) a success is to be sent."""
        if self in (AckCondition.ALWAYS, AckCondition.NEVER):
            return self is AckCondition.ALWAYS
        return success if self is AckCondition.SUCCESS else not success


@dataclass(frozen=True)
class AckModes:
    """MSH-15 and MSH-16 of a message in enhanced mode."""

    accept: AckCondition
    application: AckCondition


def _condition(value: str) -> AckCondition:
    # v2.5 requires both fields in enhanced mode; one left empty, or a value outside table 0155, is read as
    # AL: an answer the sender did not ask for is harmless, a missing one leaves it waiting or resending
    try:
        return AckCondition(value)
    except ValueError:
        return AckCondition.ALWAYS


def ack_modes(text: str) -> AckModes | None:
    """The enhanced-mode conditions of a v2 message; None in original mode (MSH-15 and MSH-16 both empty)
    or where the message has no readable MSH (it is answered as in original mode, naming what is wrong)."""
    try:
        msh = split_segments(text, "message")["MSH"][0]
    except InputError:
        return None
    accept = component(field_at(msh, 15), 1).strip().upper()
    application = component(field_at(msh, 16), 1).strip().upper()
    if not accept and not application:
        return None
    return AckModes(_condition(accept), _condition(application))


def commit_code(code: str, error: str) -> str:
    """MSA-1 of the accept ACK for a message answered ``code`` (original mode) with ERR-3 ``error``: CR where
    the header rules the message out (what original mode answers AR), CE where it could not be stored
    (its control id names another message: 205), else CA: stored, whatever its processing will answer."""
    if code == "AR":
        return "CR"
    if error == "205":
        return "CE"
    return "CA"
