"""Selection and scrubbing agree: the lines select_codes chooses pass the scrubber without errors.

Walks every service, every non-empty combination of the components it uses, both settings, office and
facility places of service, and recorded hours on each side of every band boundary.
"""

from __future__ import annotations

from itertools import combinations

from coding_builders import BASELINE, VALID_NPI, facts

from ecgdesk.coding.results import Severity
from ecgdesk.coding.scrub import scrub
from ecgdesk.coding.selection import claim_for, select_codes
from ecgdesk.errors import InputError

PARTS = {
    "resting_ecg": ["recording", "interpretation"],
    "rhythm_strip": ["recording", "interpretation"],
    "stress_test": ["recording", "supervision", "interpretation"],
    "ambulatory_ecg": ["recording", "scanning", "interpretation"],
    "mobile_telemetry": ["recording", "monitoring", "interpretation"],
    "event_monitor": ["recording", "monitoring", "interpretation"],
    "ippe_screening_ecg": ["recording", "interpretation"],
    "arterial_waveform": ["recording", "interpretation"],
}
HOURS = [6.0, 12.0, 30.0, 48.0, 48.1, 100.0, 168.0, 176.0, 360.0]
PLACES = [("practitioner", "11"), ("practitioner", "22"), ("hospital_outpatient", "22")]


def test_selected_lines_scrub_clean() -> None:
    checked = 0
    for service, parts in PARTS.items():
        hours_list = HOURS if service == "ambulatory_ecg" else [None]
        for size in range(1, len(parts) + 1):
            for components in combinations(parts, size):
                for setting, pos in PLACES:
                    for hours in hours_list:
                        for start in ("2020-06-01", "2024-08-01"):
                            try:
                                chosen = facts(
                                    service=service,
                                    components=list(components),
                                    setting=setting,
                                    place_of_service=pos,
                                    recorded_hours=hours,
                                    start=start,
                                    end=None,
                                    diagnoses=["I48.91"],
                                    ordering_provider_npi=VALID_NPI,
                                    provider_id=VALID_NPI,
                                    interpretation_signed=True,
                                )
                                result = select_codes(chosen)
                            except InputError:
                                continue  # e.g. a technical part only, in a facility: nothing to bill
                            errors = [
                                f
                                for f in scrub(claim_for(chosen, result), refdata=BASELINE)
                                if f.severity is Severity.ERROR
                            ]
                            assert errors == [], (
                                service,
                                components,
                                setting,
                                pos,
                                hours,
                                start,
                                result.lines,
                            )
                            checked += 1
    assert checked > 150
