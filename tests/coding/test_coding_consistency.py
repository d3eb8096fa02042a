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


def test_a_supporting_diagnosis_after_the_fourth_is_pointed_to() -> None:
    """coding.md 4.1-4.3: coverage is judged on the diagnoses a line points to (at most four). Until
    2026-12-07 the claim pointed to the first four, so the symptom ordered fifth was coded clean by
    select_codes (which reads every diagnosis) and the claim was denied (indication list / screening only)."""
    cases = [
        ("ambulatory_ecg", ["E78.5", "I10", "R53.83", "E11.9", "R00.2"], (1, 2, 3, 5), "indication_list"),
        (
            "resting_ecg",
            ["Z00.00", "Z13.6", "Z01.810", "Z00.01", "R07.9", "R00.2"],
            (1, 2, 5, 6),
            "screening_diagnosis",
        ),
    ]
    for service, diagnoses, pointers, rule in cases:
        chosen = facts(
            service=service,
            components=["recording", "interpretation"],
            recorded_hours=24.0 if service == "ambulatory_ecg" else None,
            diagnoses=diagnoses,
            ordering_provider_npi=VALID_NPI,
            provider_id=VALID_NPI,
            interpretation_signed=True,
        )
        result = select_codes(chosen)
        assert rule not in {f.rule for f in result.findings}
        claim = claim_for(chosen, result)
        assert {line.diagnosis_pointers for line in claim.lines} == {pointers}, service
        assert [f for f in scrub(claim, refdata=BASELINE) if f.rule == rule] == [], service
    few = facts(diagnoses=["Z13.6", "R00.2"], recorded_hours=24.0)  # up to four: all, in the order given
    assert claim_for(few, select_codes(few)).lines[0].diagnosis_pointers == (1, 2)
    many = facts(diagnoses=[f"E11.{n}" for n in (9, 65, 69, 8, 21, 22, 29, 40, 42, 43, 49, 51)] + ["R00.2"])
    assert claim_for(many, select_codes(many)).lines[0].diagnosis_pointers == (1, 2, 3, 4)  # HI holds 12
