"""Claim scrubber scenarios written from coding.md sections 1-5 (validity, modifiers, NCCI, MUE, POS,
monitoring periods, necessity, documentation). These run on the built-in baseline tables."""

from __future__ import annotations

from typing import Any

import pytest
from coding_builders import BASELINE, claim, line_data

from ecgdesk.coding.facts import Claim
from ecgdesk.coding.results import Finding, Severity
from ecgdesk.coding.scrub import RULES, scrub
from ecgdesk.errors import InputError

TABLE_REMARKS = ("refdata_fallback", "icd_code_set")


def _run(c: Claim, history: tuple[Claim, ...] = ()) -> list[Finding]:
    # remarks on the tables themselves (the baseline's, the one ICD-10-CM set's dates): their own tests
    return [f for f in scrub(c, history, refdata=BASELINE) if f.rule not in TABLE_REMARKS]


def _one(findings: list[Finding], rule: str) -> Finding:
    matching = [f for f in findings if f.rule == rule]
    assert len(matching) == 1, findings
    return matching[0]


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


def test_clean_claim_has_no_errors() -> None:
    assert _errors(_run(claim(line_data("93000")))) == []


def test_rules_are_a_registry_of_named_functions() -> None:
    assert {"code_valid_on_dos", "ptp_edit", "mue", "monitoring_period", "icd_valid", "ordering_npi"} <= set(
        RULES
    )


# -- code history (181) --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "last_day", "first_invalid", "replacement"),
    [("93012", "2010-12-31", "2011-01-01", "93270"), ("0295T", "2020-12-31", "2021-01-01", "93241")],
)
def test_deleted_codes_are_invalid_after_their_last_day(
    code: str, last_day: str, first_invalid: str, replacement: str
) -> None:
    hours: dict[str, Any] = {"recorded_hours": 100.0} if code == "0295T" else {}
    assert not [f for f in _run(claim(line_data(code, last_day, **hours))) if f.rule == "code_valid_on_dos"]
    finding = _one(_run(claim(line_data(code, first_invalid, **hours))), "code_valid_on_dos")
    assert finding.carc == "181"
    assert finding.fix is not None and replacement in finding.fix


def test_93241_is_invalid_before_2021_and_valid_from_2021() -> None:
    before = _one(_run(claim(line_data("93241", "2020-12-31", recorded_hours=100.0))), "code_valid_on_dos")
    assert before.carc == "181" and before.fix is not None and "0295T" in before.fix
    after = _run(claim(line_data("93241", "2021-01-01", recorded_hours=100.0)))
    assert not [f for f in after if f.rule == "code_valid_on_dos"]


# -- modifiers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "modifier", "fix_code"),
    [("93000", "26", "93010"), ("93015", "TC", "93017"), ("93224", "26", "93227")],
)
def test_26_tc_refused_on_pctc_2_3_4_codes(code: str, modifier: str, fix_code: str) -> None:
    finding = _one(_run(claim(line_data(code, modifiers=[modifier], recorded_hours=24.0))), "pctc_modifier")
    assert finding.carc == "4"
    assert finding.fix is not None and fix_code in finding.fix


def test_26_allowed_on_93050() -> None:
    assert not [f for f in _run(claim(line_data("93050", modifiers=["26"]))) if f.rule == "pctc_modifier"]


def test_short_holter_needs_52() -> None:
    finding = _one(_run(claim(line_data("93224", recorded_hours=8.0))), "modifier_52")
    assert finding.carc == "4" and finding.severity is Severity.ERROR
    assert not [
        f
        for f in _run(claim(line_data("93224", modifiers=["52"], recorded_hours=8.0)))
        if f.rule == "modifier_52"
    ]
    over = _one(_run(claim(line_data("93224", modifiers=["52"], recorded_hours=30.0))), "modifier_52")
    assert over.severity is Severity.WARNING


def test_hours_outside_the_band_of_the_code() -> None:
    finding = _one(_run(claim(line_data("93224", recorded_hours=100.0))), "duration_band")
    assert finding.fix is not None and "93241" in finding.fix
    # coding.md 2.2: the hours actually recorded choose the code; until 2026-12-07 a Holter of 0 h (with 52)
    # scrubbed clean although nothing was recorded to scan or read
    empty = _one(_run(claim(line_data("93227", modifiers=["52"], recorded_hours=0.0))), "duration_band")
    assert empty.severity is Severity.ERROR and empty.line == 0 and "0 h recorded" in empty.message
    short = _run(claim(line_data("93227", modifiers=["52"], recorded_hours=0.5)))
    assert not [f for f in short if f.rule == "duration_band"]


def test_repeat_ecg_without_76_looks_like_duplicate() -> None:
    findings = _run(claim(line_data("93000"), line_data("93000")))
    finding = _one(findings, "repeat_modifier")
    assert finding.line == 1 and finding.carc == "18"
    assert not [
        f
        for f in _run(claim(line_data("93000"), line_data("93000", modifiers=["76"])))
        if f.rule == "repeat_modifier"
    ]


def test_76_on_a_monitoring_code_is_refused() -> None:
    finding = _one(_run(claim(line_data("93224", modifiers=["76"], recorded_hours=24.0))), "repeat_modifier")
    assert finding.carc == "4"


# -- NCCI PTP (97 / 236) -------------------------------------------------------------------------------


def test_indicator_1_pair_without_modifier_is_97_on_column_2() -> None:
    finding = _one(_run(claim(line_data("93000"), line_data("93040"))), "ptp_edit")
    assert (finding.line, finding.code, finding.carc) == (1, "93040", "97")


def test_indicator_1_pair_with_xu_is_bypassed() -> None:
    finding = _one(_run(claim(line_data("93000"), line_data("93040", modifiers=["XU"]))), "ptp_edit")
    assert finding.severity is Severity.INFO


def test_indicator_0_pair_cannot_be_bypassed() -> None:
    findings = _run(
        claim(
            line_data("93224", recorded_hours=24.0), line_data("93225", modifiers=["59"], recorded_hours=24.0)
        )
    )
    finding = _one(findings, "ptp_edit")
    assert finding.carc == "236" and "cannot bypass" in finding.message


def test_distinct_modifier_where_no_pair_needs_it() -> None:
    finding = _one(_run(claim(line_data("93000", modifiers=["XU"]))), "distinct_modifier")
    assert finding.carc == "236"
    # coding.md 2.7: the ECG at a Holter's hook-up, billed on its own claim, needs its 59/XU (93224/93000,
    # indicator 1, binds the same provider's claims for the day); until 2026-12-07 it was called needless
    holter = claim(line_data("93224", recorded_hours=24.0), claim_id="H1")
    assert _run(claim(line_data("93000", modifiers=["59"])), (holter,)) == []
    unmarked = _run(claim(line_data("93000")), (holter,))
    assert [f.rule for f in unmarked] == ["ptp_history"]
    other_day = claim(line_data("93224", "2024-07-20", recorded_hours=24.0), claim_id="H0")
    assert _one(_run(claim(line_data("93000", modifiers=["59"])), (other_day,)), "distinct_modifier")


def test_extended_and_holter_same_day_is_236() -> None:
    findings = _run(claim(line_data("93224", recorded_hours=24.0), line_data("93241", recorded_hours=100.0)))
    assert _one(findings, "ptp_edit").carc == "236"


def test_deleted_edit_does_not_fire() -> None:
    # 93005/93010: edit deleted 2005 (indicator 9); the hospital 99291/93040 edit ended 2010-12-31.
    assert not [f for f in _run(claim(line_data("93005"), line_data("93010"))) if f.rule == "ptp_edit"]
    hospital = claim(
        line_data("99291"), line_data("93040"), setting="hospital_outpatient", place_of_service="22"
    )
    assert not [f for f in _run(hospital) if f.rule == "ptp_edit"]
    practitioner = claim(line_data("99291"), line_data("93040"), place_of_service="23")
    assert _one(_run(practitioner), "ptp_edit").carc == "97"


def test_ptp_edit_in_force_only_on_its_dates() -> None:
    before = _run(
        claim(line_data("0295T", "2020-12-31", recorded_hours=100.0), line_data("93000", "2020-12-31"))
    )
    assert _one(before, "ptp_edit").carc == "97"


def test_cross_family_edits_in_baseline() -> None:
    stress_echo = _run(claim(line_data("93351"), line_data("93015")))
    assert _one(stress_echo, "ptp_edit").carc == "236"
    nurse_visit = _run(claim(line_data("93000"), line_data("99211")))
    assert _one(nurse_visit, "ptp_edit").code == "99211"


def test_lines_on_different_days_are_not_paired() -> None:
    assert not [
        f
        for f in _run(claim(line_data("93000", "2024-08-01"), line_data("93040", "2024-08-02")))
        if f.rule == "ptp_edit"
    ]


# -- MUE (151) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "units", "setting", "denied"),
    [
        ("93005", 4, "practitioner", True),
        ("93005", 4, "hospital_outpatient", False),
        ("93041", 3, "practitioner", True),
        ("93041", 3, "hospital_outpatient", False),
    ],
)
def test_mue_by_setting(code: str, units: int, setting: str, denied: bool) -> None:
    c = claim(
        line_data(code, units=units),
        setting=setting,
        place_of_service="11" if setting == "practitioner" else "22",
    )
    findings = [f for f in _run(c) if f.rule == "mue"]
    assert bool(findings) is denied
    if denied:
        assert findings[0].carc == "151" and "MAI 3" in findings[0].message


def test_mue_mai_3_sums_units_over_lines_of_the_day() -> None:
    findings = _run(claim(line_data("93000", units=2), line_data("93000", units=2, modifiers=["76"])))
    assert _one(findings, "mue").line == 1


def test_mue_mai_2_is_absolute() -> None:
    finding = _one(_run(claim(line_data("93224", units=2, recorded_hours=24.0))), "mue")
    assert "MAI 2" in finding.message and "cannot be appealed" in finding.message


# -- place of service (5) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "modifiers", "denied", "fix_code"),
    [
        ("93000", [], True, "93010"),
        ("93010", [], False, None),
        ("93229", [], True, "93228"),
        ("93050", [], True, "93050-26"),
        ("93050", ["26"], False, None),
    ],
)
def test_facility_place_of_service(
    code: str, modifiers: list[str], denied: bool, fix_code: str | None
) -> None:
    findings = [
        f
        for f in _run(claim(line_data(code, modifiers=modifiers), place_of_service="22"))
        if f.rule == "place_of_service"
    ]
    assert bool(findings) is denied
    if fix_code:
        assert findings[0].carc == "5" and findings[0].fix is not None and fix_code in findings[0].fix


# -- monitoring periods (119, B20) ---------------------------------------------------------------------


def _history(code: str, dos: str, provider: str) -> Claim:
    return claim(line_data(code, dos, recorded_hours=100.0), provider_id=provider, claim_id="H1")


def test_second_set_within_30_days_same_provider_is_119() -> None:
    finding = _one(
        _run(
            claim(line_data("93241", recorded_hours=100.0)),
            (_history("93241", "2024-07-20", claim(line_data("93000")).provider_id or ""),),
        ),
        "monitoring_period",
    )
    assert finding.carc == "119" and "H1" in finding.message


def test_the_same_monitor_resubmitted_by_the_same_provider_is_a_duplicate() -> None:
    # coding.md 5: CARC 18, exact duplicate (a resubmission), not a second set in the period (119)
    provider = claim(line_data("93000")).provider_id or ""
    finding = _one(
        _run(claim(line_data("93241", recorded_hours=100.0)), (_history("93241", "2024-08-01", provider),)),
        "monitoring_period",
    )
    assert finding.carc == "18" and "duplicate" in finding.message and "H1" in finding.message


def test_overlapping_set_of_another_provider_is_b20() -> None:
    finding = _one(
        _run(claim(line_data("93268")), (_history("93245", "2024-07-20", "1245319599"),)),
        "monitoring_overlap",
    )
    assert finding.carc == "B20"


def test_sets_30_days_apart_and_split_parts_are_fine() -> None:
    later = _run(
        claim(line_data("93241", recorded_hours=100.0)), (_history("93241", "2024-07-02", "1245319599"),)
    )
    assert not [f for f in later if f.rule.startswith("monitoring")]
    split = _run(
        claim(line_data("93243", recorded_hours=100.0)), (_history("93242", "2024-08-01", "1245319599"),)
    )
    assert not [f for f in split if f.rule.startswith("monitoring")]


def _period(code: str, start: str, end: str, dos: str | None = None) -> dict[str, Any]:
    """A period's line as coding writes it: its own date (``dos``, by its part) and the period's end."""
    return line_data(code, dos or start, period_end=end)


# reference monitoring.md section 5 rule 1 (Noridian): sets may not COMPLETE within 29 days of each other.
# A: an event period begun 2024-07-01 and stopped early on 2024-07-04 (read signed on 2024-07-08).
EARLY_STOPPED = (
    _period("93270", "2024-07-01", "2024-07-04"),
    _period("93271", "2024-07-01", "2024-07-04", dos="2024-07-04"),
    _period("93272", "2024-07-01", "2024-07-04", dos="2024-07-08"),
)


@pytest.mark.parametrize(
    "second",
    [
        # begun 19 days after the first began, completed 29 days after the first completed
        (
            _period("93270", "2024-07-20", "2024-08-02"),
            _period("93271", "2024-07-20", "2024-08-02", dos="2024-08-02"),
            _period("93272", "2024-07-20", "2024-08-02", dos="2024-08-05"),
        ),
        # the same periods as an older coding record wrote them (start, and the end as a span)
        (line_data("93268", "2024-07-20", date_of_service_end="2024-08-02"),),
    ],
    ids=["by-part", "span"],
)
def test_a_new_period_completing_29_days_after_an_early_stopped_one_is_fine(
    second: tuple[dict[str, Any], ...],
) -> None:
    """Before, the sets were compared by their start (19 days apart): CARC 119 on a legitimate period."""
    provider = claim(line_data("93000")).provider_id
    for first in (EARLY_STOPPED, (line_data("93268", "2024-07-01", date_of_service_end="2024-07-04"),)):
        history = (claim(*first, provider_id=provider, claim_id="H1"),)
        found = _run(claim(*second), history)
        assert not [f for f in found if f.rule.startswith("monitoring")], found


@pytest.mark.parametrize(("other_provider", "rule", "carc"), [(False, "monitoring_period", "119"),
                                                              (True, "monitoring_overlap", "B20")])
def test_a_new_period_completing_within_29_days_of_the_last_is_flagged(
    other_provider: bool, rule: str, carc: str
) -> None:
    """A full telemetry period (2024-07-01 to 07-30), then one begun 30 days after it began and stopped early
    on 2024-08-05: it completes 6 days after the first. Before, the starts (30 days apart) hid it."""
    provider = "1245319599" if other_provider else claim(line_data("93000")).provider_id
    full = claim(
        _period("93229", "2024-07-01", "2024-07-30", dos="2024-07-30"),
        _period("93228", "2024-07-01", "2024-07-30", dos="2024-08-01"),
        provider_id=provider,
        claim_id="H1",
    )
    span = claim(line_data("93229", "2024-07-01", date_of_service_end="2024-07-30"), provider_id=provider)
    too_close = claim(line_data("93229", "2024-07-31", date_of_service_end="2024-08-05"))
    by_part = claim(_period("93229", "2024-07-31", "2024-08-05", dos="2024-08-05"))
    for history in (full, span):
        for second in (too_close, by_part):
            finding = _one(_run(second, (history,)), rule)
            assert finding.carc == carc and "2024-07-30" in finding.message and "6 days" in finding.message
    # 28 days after is still too close; 29 days after is fine
    assert _one(_run(claim(_period("93229", "2024-08-01", "2024-08-27", dos="2024-08-27")), (full,)), rule)
    fine = _run(claim(_period("93229", "2024-08-01", "2024-08-28", dos="2024-08-28")), (full,))
    assert not [f for f in fine if f.rule.startswith("monitoring")]


def test_the_same_period_billed_again_by_the_same_provider_is_a_duplicate() -> None:
    provider = claim(line_data("93000")).provider_id
    first = claim(_period("93272", "2024-07-01", "2024-07-04", dos="2024-07-08"), provider_id=provider,
                  claim_id="H1")
    again = _one(_run(claim(_period("93272", "2024-07-01", "2024-07-04", dos="2024-07-09")), (first,)),
                 "monitoring_period")
    assert again.carc == "18" and "same period" in again.message and "H1" in again.message


@pytest.mark.parametrize(("other_provider", "rule", "carc"), [(False, "monitoring_period", "119"),
                                                              (True, "monitoring_overlap", "B20")])
def test_two_periods_read_on_the_same_day_are_no_duplicate(
    other_provider: bool, rule: str, carc: str
) -> None:
    """Two event periods (ended 2024-07-30 and 2024-08-20) whose reads were both signed on 2024-08-22 carry
    that day on their 93268 lines. Before, the same day made the second a resubmission of the first (CARC
    18, 'correct the earlier claim'); it is a second set completing 21 days after the first (119 / B20)."""
    provider = "1245319599" if other_provider else claim(line_data("93000")).provider_id
    first = claim(_period("93268", "2024-07-01", "2024-07-30", dos="2024-08-22"), provider_id=provider,
                  claim_id="H1")
    second = _one(_run(claim(_period("93268", "2024-07-31", "2024-08-20", dos="2024-08-22")), (first,)), rule)
    assert second.carc == carc and "21 days" in second.message and "duplicate" not in second.message


# -- medical necessity (16 / 11 / 50 / 96) -------------------------------------------------------------


def test_invalid_and_non_billable_diagnoses() -> None:
    findings = _run(claim(line_data("93000", diagnosis_pointers=[1, 2]), diagnoses=["R99.99", "I48"]))
    assert _one(findings, "icd_valid").carc == "16"
    assert _one(findings, "icd_billable").carc == "11"


def test_screening_diagnosis_on_diagnostic_ecg() -> None:
    finding = _one(_run(claim(line_data("93000"), diagnoses=["Z00.00"])), "screening_diagnosis")
    assert finding.carc == "50" and finding.fix is not None and "GY" in finding.fix
    with_gy = _one(
        _run(claim(line_data("93000", modifiers=["GY"]), diagnoses=["Z00.00"])), "screening_diagnosis"
    )
    assert (with_gy.severity, with_gy.carc) == (Severity.INFO, "96")
    assert not [
        f for f in _run(claim(line_data("G0403"), diagnoses=["Z00.00"])) if f.rule == "screening_diagnosis"
    ]


def test_indication_list_for_ambulatory_monitoring_and_abn() -> None:
    back_pain = {"diagnoses": ["M54.50"]}
    plain = _one(_run(claim(line_data("93241", recorded_hours=100.0), **back_pain)), "indication_list")
    assert plain.carc == "50" and plain.severity is Severity.ERROR
    ga = _one(
        _run(
            claim(line_data("93241", modifiers=["GA"], recorded_hours=100.0), abn_on_file=True, **back_pain)
        ),
        "indication_list",
    )
    assert ga.severity is Severity.INFO and "patient" in ga.message
    assert (
        _one(
            _run(claim(line_data("93241", modifiers=["GA"], recorded_hours=100.0), **back_pain)),
            "abn_missing",
        ).carc
        == "16"
    )
    gz = _one(
        _run(claim(line_data("93241", modifiers=["GZ"], recorded_hours=100.0), **back_pain)),
        "indication_list",
    )
    assert gz.severity is Severity.WARNING
    assert not [
        f
        for f in _run(claim(line_data("93241", recorded_hours=100.0), diagnoses=["I48.91"]))
        if f.rule == "indication_list"
    ]


# -- documentation (16) --------------------------------------------------------------------------------


def test_unsigned_interpretation_only_hits_professional_parts() -> None:
    findings = _run(claim(line_data("93010"), line_data("93005", "2024-08-02"), interpretation_signed=False))
    assert _one(findings, "signed_interpretation").code == "93010"
    assert not [
        f
        for f in _run(claim(line_data("93050", modifiers=["TC"]), interpretation_signed=False))
        if f.rule == "signed_interpretation"
    ]


def test_ambulatory_code_needs_recorded_hours() -> None:
    assert _one(_run(claim(line_data("93245"))), "recorded_hours").carc == "16"


@pytest.mark.parametrize(
    ("npi", "denied"), [(None, True), ("1234567890", True), ("12345", True), ("1234567893", False)]
)
def test_ordering_npi_luhn(npi: str | None, denied: bool) -> None:
    findings = [
        f for f in _run(claim(line_data("93000"), ordering_provider_npi=npi)) if f.rule == "ordering_npi"
    ]
    assert bool(findings) is denied


def test_units_and_pointers() -> None:
    findings = _run(claim(line_data("93000", units=0, diagnosis_pointers=[3])))
    assert _one(findings, "units").carc == "16"
    assert _one(findings, "diagnosis_pointers").carc == "16"


def test_baseline_use_is_reported_as_info() -> None:
    findings = scrub(claim(line_data("93000"), line_data("93040")), refdata=BASELINE)
    infos = [f for f in findings if f.rule == "refdata_fallback"]
    assert {f.message.split()[2] for f in infos} == {"MUE", "PTP"}
    assert all(f.severity is Severity.INFO and "baseline" in f.message for f in infos)


def test_ptp_binds_earlier_claims_of_the_same_provider_and_day() -> None:
    earlier = claim(line_data("93000"), claim_id="E7")
    finding = _one(_run(claim(line_data("93040")), (earlier,)), "ptp_history")
    assert (finding.code, finding.carc) == ("93040", "97") and "E7" in finding.message
    other_provider = claim(line_data("93000"), provider_id="1245319599")
    assert not [f for f in _run(claim(line_data("93040")), (other_provider,)) if f.rule == "ptp_history"]
    recoup = _one(_run(claim(line_data("93000")), (claim(line_data("93040")),)), "ptp_history")
    assert recoup.severity is Severity.WARNING
    # an earlier line marked distinct (59/X) is paid as such: nothing to recoup (until 2026-12-07 warned)
    distinct = claim(line_data("93040", modifiers=["XU"]))
    assert not [f for f in _run(claim(line_data("93000")), (distinct,)) if f.rule == "ptp_history"]


def test_beyond_30_days_on_category_iii_code_is_a_warning() -> None:
    finding = _one(_run(claim(line_data("0937T", "2025-03-01", recorded_hours=800.0))), "duration_band")
    assert finding.severity is Severity.WARNING


def test_deleted_component_code_names_the_same_part_in_the_right_band() -> None:
    finding = _one(_run(claim(line_data("0298T", "2021-03-01", recorded_hours=200.0))), "code_valid_on_dos")
    assert finding.fix is not None and "93248" in finding.fix and "93244" not in finding.fix


def test_rules_can_be_chosen_by_name() -> None:
    c = claim(line_data("93000", modifiers=["26"]), line_data("93040"))
    only = scrub(c, refdata=BASELINE, rules=["pctc_modifier"])
    assert {f.rule for f in only} == {"pctc_modifier"}
    with pytest.raises(InputError) as info:
        scrub(c, refdata=BASELINE, rules=["no_such_rule"])
    assert info.value.field == "rules"


@pytest.mark.parametrize(
    "part",
    [
        _period("93270", "2024-07-01", "2024-07-30"),
        _period("93271", "2024-07-01", "2024-07-30", dos="2024-07-30"),
        _period("93272", "2024-07-01", "2024-07-30", dos="2024-08-05"),
    ],
    ids=["hook-up", "technical", "reading"],
)
def test_the_global_event_code_with_one_of_its_parts_on_one_claim_is_an_error(part: dict[str, Any]) -> None:
    """Reference monitoring.md section 5 rule 2: 93268 is never billed with 93270-93272 in a period. The parts
    are dated by their own part (rule 4), so a same-day PTP edit never meets them: before, one claim carrying
    the global code and a part of the same period scrubbed clean. On the same day the PTP edit says it."""
    whole = _period("93268", "2024-07-01", "2024-07-30", dos="2024-08-02")
    found = _one(_run(claim(whole, part)), "monitoring_global_with_part")
    assert found.severity is Severity.ERROR and found.carc == "236"
    assert "93268" in found.message and part["code"] in found.message
    # the parts together are one set, split or not
    parts = claim(
        _period("93270", "2024-07-01", "2024-07-30"),
        _period("93271", "2024-07-01", "2024-07-30", dos="2024-07-30"),
        _period("93272", "2024-07-01", "2024-07-30", dos="2024-08-02"),
    )
    assert not [f for f in _run(parts) if f.rule.startswith("monitoring")]
    same_day = _run(claim(whole, _period("93272", "2024-07-01", "2024-07-30", dos="2024-08-02")))
    assert _one(same_day, "ptp_edit").carc == "236"
    assert not [f for f in same_day if f.rule == "monitoring_global_with_part"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (_period("93272", "2024-07-01", "2024-07-30", dos="2024-07-20"), "before the end"),
        (_period("93268", "2024-07-01", "2024-07-30", dos="2024-07-29"), "before the end"),
        (_period("93228", "2024-07-01", "2024-07-30", dos="2024-07-01"), "before the end"),
        (_period("93271", "2024-07-01", "2024-07-30", dos="2024-07-20"), "the end of monitoring"),
        (_period("93229", "2024-07-01", "2024-07-30", dos="2024-08-02"), "the end of monitoring"),
        (_period("93270", "2024-07-01", "2024-07-30", dos="2024-08-02"), "the first day"),
        (_period("93270", "2024-05-01", "2024-07-30", dos="2024-05-01"), "the first day"),
    ],
    ids=["93272", "93268", "93228", "93271", "93229", "93270-after", "93270-too-early"],
)
def test_a_period_part_dated_against_its_part_is_an_error(line: dict[str, Any], why: str) -> None:
    """Reference monitoring.md section 5 rule 4: the hook-up on the first day, the technical part on the end
    (or the documented early stop, which is then the line's period_end), the read and the global code on
    the signature, never before the end. Coding dates its own lines so; before, a claim made elsewhere with
    93272 dated before the end of its period scrubbed clean."""
    found = _one(_run(claim(line)), "monitoring_part_date")
    assert found.severity is Severity.ERROR and found.code == line["code"] and why in found.message
    assert "2024-07-30" in found.message


def test_period_parts_dated_by_their_part_are_fine() -> None:
    for lines in (
        (
            _period("93270", "2024-07-01", "2024-07-30"),
            _period("93271", "2024-07-01", "2024-07-30", dos="2024-07-30"),
            _period("93272", "2024-07-01", "2024-07-30", dos="2024-07-30"),
        ),
        (_period("93268", "2024-07-01", "2024-07-30", dos="2024-09-02"),),
        (
            _period("93229", "2024-07-01", "2024-07-04", dos="2024-07-04"),
            _period("93228", "2024-07-01", "2024-07-04", dos="2024-07-08"),
        ),
        # an older coding record's span (no period_end) is not judged by its parts
        (line_data("93268", "2024-07-01", date_of_service_end="2024-07-30"),),
    ):
        assert not [f for f in _run(claim(*lines)) if f.rule == "monitoring_part_date"]
