"""Whose age and sex a stress test uses: the patient record's, not the protocol file's.

The stress system's protocol file carries an age and a sex typed at the treadmill; the patient record
(registered from the order or the EHR) is the truth for who the patient is. The age at the test date,
computed from the record's birth date, sets the age-predicted maximum heart rate, so a wrong age changes
the percentage reached and the adequacy of the test. The protocol's values are used only where the record
lacks them, and every disagreement or fallback is kept as a note the report and the study page print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ecgdesk.analysis.stress.protocol import StressProtocol

RECORD, PROTOCOL = "patient record", "protocol file"
KNOWN_SEXES = ("M", "F")  # "U" or empty: the record does not know it


def age_on(birth_date: date, day: date) -> int:
    """Completed years on ``day`` (a birthday counts from that day on)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class StressSubject:
    """The age and sex the analysis used, where each came from, and what the protocol file said."""

    age: int
    sex: str
    age_from: str
    sex_from: str
    protocol_age: int
    protocol_sex: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {"age": self.age, "sex": self.sex, "age_from": self.age_from, "sex_from": self.sex_from,
                "protocol_age": self.protocol_age, "protocol_sex": self.protocol_sex,
                "notes": list(self.notes)}


def stress_subject(protocol: StressProtocol, birth_date: date | None = None, sex: str | None = None,
                   test_date: date | None = None) -> StressSubject:
    """The record's sex and age at ``test_date`` where it has them, else the protocol's, with notes."""
    notes: list[str] = []
    if birth_date is None and sex is None and test_date is None:  # no record at all (``ecgdesk stress``)
        return StressSubject(protocol.age, protocol.sex, PROTOCOL, PROTOCOL, protocol.age, protocol.sex,
                             (f"No patient record given: age {protocol.age}, sex {protocol.sex} from the "
                              "protocol file",))
    record_sex = (sex or "").strip().upper()
    if record_sex in KNOWN_SEXES:
        used_sex, sex_from = record_sex, RECORD
    else:
        used_sex, sex_from = protocol.sex, PROTOCOL
        notes.append(f"The patient record gives no sex: sex {protocol.sex} from the protocol file")
    if birth_date is not None and test_date is not None:
        used_age, age_from = age_on(birth_date, test_date), RECORD
    else:
        used_age, age_from = protocol.age, PROTOCOL
        missing = "birth date" if birth_date is None else "test date (the recording has no start time)"
        notes.append(f"The patient record gives no {missing}: age {protocol.age} from the protocol file")
    age_differs = age_from == RECORD and used_age != protocol.age
    if age_differs or (sex_from == RECORD and used_sex != protocol.sex):
        said = f"Protocol file says age {protocol.age}, sex {protocol.sex}"
        notes.insert(0, f"{said}; the patient record is used")
    return StressSubject(used_age, used_sex, age_from, sex_from, protocol.age, protocol.sex, tuple(notes))
