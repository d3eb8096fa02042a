"""Why an inbound order is held, and what its sender is told.

An order whose patient id is on record with another name, birth date or sex is held for a person to resolve.
That person needs both sides (the patient as stored and as ordered), so the stored reason keeps them
(``interop_orders._patient_conflict``, a form the patient updates also read); the sender is told only which
fields differ, worked out from it. Anyone allowed to send orders (an interface account, an
administrator) could otherwise read a patient's stored demographics by sending an order with the patient's
id. The stored values are read only where holds are resolved (``interop inbound``, an audited read).
"""

from __future__ import annotations

import re

HELD = "held"

#: The message element each compared value (name, birth date, sex) is read from, by message kind: the
#: sender finds what to check in its own message.
_LABELS = {
    "hl7": ("PID-5 name", "PID-7 birth date", "PID-8 sex"),
    "fhir": ("Patient.name", "Patient.birthDate", "Patient.gender"),
    "study": ("name", "birth date", "sex"),  # a study created by hand (studies.add_study): its own fields
}
_TAIL = "from the patient on record; held for review, not merged"
#: The stored reason of a held order: both sides, which only the answer's field names may come from.
_HELD = re.compile(
    r"patient .* exists as (.*), born (.*), sex (.*); the order says (.*), born (.*), sex (.*): "
    r"held for review, not merged",
    re.DOTALL,
)

#: The end of the stored reason of a held merge (both records' values come before it).
_MERGE_HELD = "differ in birth date or sex: merge held for review, not merged"

Demographics = tuple[str, str, str]  # name, birth date (ISO), sex


def _same(index: int, mine: str, theirs: str) -> bool:
    """Whether a stored and a given value name the same: a name whatever its case and spacing (an EHR that
    writes names in capitals, 'DOE, JANE', names Jane Doe), a sex where either is unknown (U: not sent, as
    a merge already read it)."""
    if index == 0:
        return "".join(mine.split()).casefold() == "".join(theirs.split()).casefold()
    if index == 2:
        return mine == theirs or "U" in (mine, theirs)
    return mine == theirs


def differing(kind: str, stored: Demographics, given: Demographics) -> list[str]:
    """The fields (as ``kind``'s sender names them) in which ``given`` differs from the patient on record:
    what an answer may say without the stored values; none where they are the same patient's."""
    labels = _LABELS.get(kind, _LABELS["hl7"])
    return [label for index, (label, mine, theirs) in enumerate(zip(labels, stored, given, strict=True))
            if not _same(index, mine, theirs)]


def _answer(kind: str, stored: Demographics, ordered: Demographics) -> str:
    differ = differing(kind, stored, ordered)
    if not differ:  # a reason that says nothing differs is no hold; say so without values all the same
        return f"the patient differs {_TAIL}"
    named = differ[0] if len(differ) == 1 else ", ".join(differ[:-1]) + " and " + differ[-1]
    return f"{named} {'differs' if len(differ) == 1 else 'differ'} {_TAIL}"


def answer_of(kind: str, status: str, reason: str) -> str:
    """What the sender is told of a message's stored reason: all of it, except for a held message, whose
    stored patient's values are left out (a resend gets the first answer, without them)."""
    if status != HELD:
        return reason
    held = _HELD.fullmatch(reason)
    if held is not None:
        values = held.groups()
        return _answer(kind, (values[0], values[1], values[2]), (values[3], values[4], values[5]))
    if reason.endswith(_MERGE_HELD):  # a merge (interop_patients): it names both records' birth dates
        records = "the Patient and its Patient.link.other" if kind == "fhir" else "MRG-1 and PID-3"
        return f"the records of {records} {_MERGE_HELD}"
    return f"the patient differs {_TAIL}"
