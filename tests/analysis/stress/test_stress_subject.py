"""Whose age and sex stress tests use: the patient record's; the protocol file's only where it lacks them."""

from __future__ import annotations

from datetime import date

from ecgdesk.analysis.stress.protocol import bruce_protocol
from ecgdesk.analysis.stress.subject import PROTOCOL, RECORD, age_on, stress_subject

PROTOCOL_FILE = bruce_protocol(55, "M", exercise_s=180, pretest_s=60, recovery_s=60)
BORN = date(1969, 9, 14)


def test_age_counts_completed_years_at_the_test_date() -> None:
    assert age_on(BORN, date(2026, 9, 13)) == 56
    assert age_on(BORN, date(2026, 9, 14)) == 57
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25


def test_the_record_is_used_and_the_protocol_files_disagreement_kept() -> None:
    subject = stress_subject(PROTOCOL_FILE, BORN, "F", date(2026, 1, 5))
    assert (subject.age, subject.sex, subject.age_from, subject.sex_from) == (56, "F", RECORD, RECORD)
    assert subject.notes == ("Protocol file says age 55, sex M; the patient record is used",)
    assert stress_subject(PROTOCOL_FILE, date(1970, 6, 1), "M", date(2026, 1, 5)).notes == ()


def test_what_the_record_lacks_comes_from_the_protocol_file_with_that_said() -> None:
    subject = stress_subject(PROTOCOL_FILE, BORN, "U", date(2026, 1, 5))
    assert (subject.age, subject.sex, subject.sex_from) == (56, "M", PROTOCOL)
    assert subject.notes == ("Protocol file says age 55, sex M; the patient record is used",
                             "The patient record gives no sex: sex M from the protocol file")
    subject = stress_subject(PROTOCOL_FILE, None, "F", date(2026, 1, 5))
    assert (subject.age, subject.age_from, subject.sex) == (55, PROTOCOL, "F")
    assert "The patient record gives no birth date: age 55 from the protocol file" in subject.notes
    alone = stress_subject(PROTOCOL_FILE)
    assert alone.notes == ("No patient record given: age 55, sex M from the protocol file",)
