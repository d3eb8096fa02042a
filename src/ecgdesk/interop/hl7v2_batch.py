"""HL7 v2 batch files (v2.5.1 2.10.3): FHS/BHS envelopes around several messages, split with python-hl7.

An EHR that exports orders to a folder often writes one file per batch: ``FHS``, ``BHS``, the messages,
``BTS`` (with the number of messages) and ``FTS``. Each message is handled on its own (its own ACK, its own
de-duplication by MSH-10); the answer is a batch of those ACKs in the same envelope. A batch whose trailer
count disagrees with the messages in it, or whose trailer is missing, was cut short or joined: it is refused
whole, before any message is acted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import hl7

from ecgdesk.errors import InputError
from ecgdesk.interop.hl7v2 import SENDING_APPLICATION
from ecgdesk.interop.hl7v2_text import component, escape, field_at, split_segments, unescape

#: A batch is a few hundred orders at most; more is not an order export (and each message is a transaction).
MAX_BATCH_MESSAGES = 1000


@dataclass(frozen=True)
class Batch:
    """The messages of a batch file, in order, and what its answer needs of its envelope."""

    messages: tuple[str, ...]
    has_file_header: bool  # FHS/FTS around the batch: the answer has them too
    reference: str  # BHS-11 (else FHS-11): the batch control id the answer refers to (BHS-12)
    sender: tuple[str, str]  # BHS-3, BHS-4: whom the answer is addressed to
    #: FHS-11: the file control id the answer's FHS-12 refers to (it gave the batch's, BHS-11, until
    #: 2026-12-08: an engine matching answers to files by it found none); '' where the file gave none
    file_reference: str = ""


def is_batch(text: str) -> bool:
    """Whether ``text`` is a batch file (it starts with an FHS or BHS segment) rather than one message."""
    return text.lstrip("\ufeff \t\r\n\x0b").startswith(("FHS", "BHS"))


def _field(segment: hl7.Segment | None, index: int, component: bool = False) -> str:
    """Field ``index`` of a header or trailer segment ('' where absent), or its first component."""
    if segment is None or len(segment) <= index:
        return ""
    value = str(segment[index])
    return unescape(value.split("^")[0] if component else value).strip()


def _count(trailer: hl7.Segment | None, segment: str, found: int, text: str, source: str) -> None:
    """BTS-1 / FTS-1 (the count of messages, of batches) against what the file holds; python-hl7 makes up
    an empty trailer where the file has none, so its presence is looked for in the text."""
    if trailer is None or not any(line.startswith(segment) for line in text.split("\r")):
        raise InputError(segment, f"the batch has no {segment} trailer: cut short? (nothing was taken)",
                         source)
    given = _field(trailer, 1)
    if given and given != str(found):
        raise InputError(f"{segment}-1", f"the trailer counts {given} but the file holds {found}: cut short "
                                         "or joined? (nothing was taken)", source)


def read_batch(text: str, source: str) -> Batch:
    """The messages of a batch file (python-hl7 splits it), its trailers checked: one batch per file."""
    text = text.lstrip("\ufeff \t\r\n\x0b").replace("\r\n", "\r").replace("\n", "\r")
    # the headers first, with the reader's checks: python-hl7 takes their delimiters on trust
    headers = [_header(text, name, source) for name in ("FHS", "BHS")]
    try:
        parsed = hl7.parse_file(text)
    except (hl7.ParseException, AssertionError, IndexError, ValueError) as error:
        # python-hl7 asserts on some damaged envelopes: still a refusal naming the batch, never an exception
        shown = str(error) or type(error).__name__
        raise InputError("BHS", f"not a readable HL7 batch: {shown}", source) from None
    batches = list(parsed)
    if len(batches) != 1:
        raise InputError("BHS", f"{len(batches)} batches in one file; send one batch per file", source)
    batch = batches[0]
    messages = tuple(str(message) for message in batch)
    if not messages:
        raise InputError("BHS", "the batch holds no message", source)
    if len(messages) > MAX_BATCH_MESSAGES:
        raise InputError("BHS", f"{len(messages)} messages; a batch holds at most {MAX_BATCH_MESSAGES}",
                         source)
    has_file_header = text.startswith("FHS")
    if batch.header is not None:
        _count(batch.trailer, "BTS", len(messages), text, source)
    if has_file_header:
        _count(parsed.trailer, "FTS", 1, text, source)
    header = headers[1] or headers[0] or []
    sender = (component(field_at(header, 3), 1), component(field_at(header, 4), 1))
    file_reference = unescape(field_at(headers[0] or [], 11)).strip()
    return Batch(messages, has_file_header, unescape(field_at(header, 11)).strip(), sender, file_reference)


def _header(text: str, name: str, source: str) -> list[str] | None:
    """The fields of the file's ``name`` segment (FHS or BHS), read as the reader reads an MSH: its own
    delimiters (FHS-1/FHS-2, as MSH-1/MSH-2) and the checks of every field (control characters, bytes not
    text); refused naming e.g. ``BHS-11``. python-hl7 splits the file, but neither reads a header's own
    escape character (a sender EPIC!T!ONE was answered as the text 'EPIC!T!ONE') nor checks its fields."""
    line = next((line for line in text.split("\r") if line.startswith(name)), None)
    if line is None:
        return None
    try:
        return split_segments("MSH" + line[3:], source)["MSH"][0]
    except InputError as error:
        raise InputError(error.field.replace("MSH", name, 1), error.reason, source) from None


def build_batch_ack(batch: Batch, acks: list[str]) -> str:
    """The batch of ACKs that answers ``batch``: BHS (BHS-12 the batch's control id), one ACK per message in
    the batch's order, BTS with their count; FHS/FTS around it (FHS-12 the file's control id,
    FHS-11) when the batch came in a file envelope."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    head = f"|^~\\&|{SENDING_APPLICATION}||{escape(batch.sender[0])}|{escape(batch.sender[1])}|{stamp}|||||"
    segments = [f"BHS{head}{escape(batch.reference)}", *(a.rstrip("\r") for a in acks), f"BTS|{len(acks)}"]
    if batch.has_file_header:
        segments = [f"FHS{head}{escape(batch.file_reference)}", *segments, "FTS|1"]
    return "\r".join(segments) + "\r"
