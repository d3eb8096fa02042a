"""The ``ecgdesk monitor enroll`` command line of the monitoring tests and the hostile-input fuzz run
(``bench/fuzz_inputs.py`` imports it): one event-monitor patient, without any heavy import."""

from __future__ import annotations

ORDERING_NPI = "1245319599"


def enroll_argv(
    device: str, start: str, ordering_npi: str = ORDERING_NPI, patient_id: str = "M1"
) -> list[str]:
    """``monitor enroll`` of patient ``patient_id`` (Roe, Rita, F, born 1950-05-06) on ``device`` from
    ``start`` (YYYY-MM-DD), ordered by ``ordering_npi`` for palpitations (R00.2)."""
    return [
        "monitor",
        "enroll",
        "--patient-id",
        patient_id,
        "--name",
        "Roe, Rita",
        "--birth-date",
        "1950-05-06",
        "--sex",
        "F",
        "--device",
        device,
        "--service",
        "event_monitor",
        "--start",
        start,
        "--ordering-npi",
        ordering_npi,
        "--indication",
        "R00.2",
    ]
