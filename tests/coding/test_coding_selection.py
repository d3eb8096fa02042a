"""Code selection scenarios written from coding.md sections 2.1-2.9 (families, parts, bands, modifiers)."""

from __future__ import annotations

import pytest
from coding_builders import facts

from ecgdesk.coding.results import CodingResult, Severity
from ecgdesk.coding.selection import select_codes
from ecgdesk.errors import InputError


def _lines(result: CodingResult) -> list[tuple[str, tuple[str, ...]]]:
    return [(line.code, line.modifiers) for line in result.lines]


def _rules(result: CodingResult) -> set[str]:
    return {f.rule for f in result.findings}


# -- duration bands (2.2) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "start", "expected"),
    [
        (11.9, "2024-08-01", ("93224", ("52",))),
        (12.0, "2024-08-01", ("93224", ())),
        (48.0, "2024-08-01", ("93224", ())),
        (48.1, "2024-08-01", ("93241", ())),
        (168.0, "2024-08-01", ("93241", ())),  # 7 days exactly stays in the 7-day band
        (176.0, "2024-08-01", ("93245", ())),  # 7 d 8 h: no rounding down to 7 days
        (360.0, "2024-08-01", ("93245", ())),  # 15 days exactly
        (361.0, "2025-03-01", ("0937T", ())),  # above 15 days once the Category III codes are in force
    ],
)
def test_recorded_hours_choose_the_family(
    hours: float, start: str, expected: tuple[str, tuple[str, ...]]
) -> None:
    result = select_codes(facts(recorded_hours=hours, start=start, end=None))
    assert _lines(result) == [expected]
    assert any(f"{hours:g} h" in sentence for sentence in result.explanations)


def test_above_15_days_before_category_iii_codes_is_unlisted_with_warning() -> None:
    result = select_codes(facts(recorded_hours=400.0))
    assert _lines(result) == [("93799", ())]
    assert "unlisted_code" in _rules(result)
    assert any(f.severity is Severity.WARNING for f in result.findings)


def test_category_iii_start_date_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECGDESK_0937T_EFFECTIVE", "2024-07-01")
    assert _lines(select_codes(facts(recorded_hours=400.0)))[0][0] == "0937T"
    monkeypatch.setenv("ECGDESK_0937T_EFFECTIVE", "2026-01-01")
    assert _lines(select_codes(facts(recorded_hours=400.0, start="2025-06-01", end=None)))[0][0] == "93799"


@pytest.mark.parametrize(("start", "code"), [("2020-12-31", "0295T"), ("2021-01-01", "93241")])
def test_extended_monitoring_codes_change_on_2021_01_01(start: str, code: str) -> None:
    result = select_codes(facts(recorded_hours=100.0, start=start, end=None))
    assert _lines(result) == [(code, ())]


def test_fourteen_day_patch_with_40_hours_is_holter_with_payer_warning() -> None:
    result = select_codes(facts(recorded_hours=40.0, prescribed_days=14))
    assert _lines(result) == [("93224", ())]
    warning = next(f for f in result.findings if f.rule == "prescribed_vs_recorded")
    assert warning.severity is Severity.WARNING
    assert "payers may differ" in warning.message


@pytest.mark.parametrize(
    ("prescribed_days", "hours", "start", "warned"),
    [
        (30, 240.0, "2025-03-01", True),  # prescribed > 15 d (0937T), recorded 10 d (93245)
        (14, 400.0, "2025-03-01", True),  # recorded past the prescription and into the > 15 d band
        (14, 240.0, "2025-03-01", False),  # both 7-15 d
        (7, 100.0, "2024-08-01", False),  # both 48 h-7 d
        (20, 240.0, "2020-06-01", False),  # before 2021 both are 0295T-0298T (> 48 h up to 21 days)
        (7, 200.0, "2020-06-01", False),  # no 7-day edge before 2021
        (20, 30.0, "2020-06-01", True),
    ],
)
def test_prescribed_and_recorded_in_different_bands_warn_at_every_band_edge(
    prescribed_days: float, hours: float, start: str, warned: bool
) -> None:
    result = select_codes(facts(recorded_hours=hours, prescribed_days=prescribed_days, start=start, end=None))
    assert ("prescribed_vs_recorded" in _rules(result)) is warned


def test_ambulatory_without_recorded_hours_names_the_field() -> None:
    with pytest.raises(InputError) as info:
        select_codes(facts(recorded_hours=None))
    assert info.value.field == "recorded_hours"
    # coding.md 2.2 (hours of analysable recording actually obtained; 52 below 12 h): a monitor that gave no
    # analysable hour is no service; until 2026-12-07 it was coded 93224-52 and scrubbed clean
    with pytest.raises(InputError) as info:
        select_codes(facts(recorded_hours=0.0, components=["scanning", "interpretation"]))
    assert info.value.field == "recorded_hours" and "no analysable recording" in str(info.value)
    assert _lines(select_codes(facts(recorded_hours=0.01))) == [("93224", ("52",))]  # 36 s is a recording


# -- global vs components (2.1) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "codes"),
    [
        (["recording"], ["93246"]),
        (["scanning"], ["93247"]),
        (["interpretation"], ["93248"]),
        (["recording", "scanning"], ["93246", "93247"]),
    ],
)
def test_split_billing_of_15_day_monitor(components: list[str], codes: list[str]) -> None:
    result = select_codes(facts(components=components))
    assert sorted(code for code, _ in _lines(result)) == codes
    assert all(mods == () for _, mods in _lines(result))


def test_short_holter_components_all_carry_52() -> None:
    result = select_codes(facts(recorded_hours=8.0, components=["scanning", "interpretation"]))
    assert _lines(result) == [("93226", ("52",)), ("93227", ("52",))]


@pytest.mark.parametrize(
    ("service", "components", "expected"),
    [
        ("resting_ecg", ["recording", "interpretation"], [("93000", ())]),
        ("resting_ecg", ["recording"], [("93005", ())]),
        ("resting_ecg", ["interpretation"], [("93010", ())]),
        ("rhythm_strip", ["recording", "interpretation"], [("93040", ())]),
        ("rhythm_strip", ["recording"], [("93041", ())]),
        ("rhythm_strip", ["interpretation"], [("93042", ())]),
        ("stress_test", ["recording", "supervision", "interpretation"], [("93015", ())]),
        ("stress_test", ["supervision", "interpretation"], [("93016", ()), ("93018", ())]),
        ("stress_test", ["recording"], [("93017", ())]),
        ("ippe_screening_ecg", ["recording", "interpretation"], [("G0403", ())]),
        ("ippe_screening_ecg", ["interpretation"], [("G0405", ())]),
        ("arterial_waveform", ["recording", "interpretation"], [("93050", ())]),
        ("arterial_waveform", ["interpretation"], [("93050", ("26",))]),
        ("arterial_waveform", ["recording"], [("93050", ("TC",))]),
        ("event_monitor", ["recording", "monitoring", "interpretation"], [("93268", ())]),
        ("event_monitor", ["monitoring"], [("93271", ())]),
        ("event_monitor", ["interpretation"], [("93272", ())]),
        ("mobile_telemetry", ["recording", "monitoring", "interpretation"], [("93228", ()), ("93229", ())]),
        ("mobile_telemetry", ["interpretation"], [("93228", ())]),
    ],
)
def test_each_family_global_or_parts(
    service: str, components: list[str], expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    result = select_codes(facts(service=service, components=components, recorded_hours=None))
    assert sorted(_lines(result)) == sorted(expected)
    assert result.explanations


def test_mct_has_no_global_code_and_says_so() -> None:
    result = select_codes(
        facts(service="mobile_telemetry", components=["recording", "monitoring", "interpretation"])
    )
    assert any("no global code" in sentence for sentence in result.explanations)


def test_mct_technical_code_needs_the_attended_monitoring() -> None:
    # 93229 bundles hook-up with the attended surveillance (coding.md 1.1, 2.7): a practice that only put
    # the device on has not furnished it; the monitoring centre bills 93229 for the period.
    with pytest.raises(InputError) as info:
        select_codes(facts(service="mobile_telemetry", components=["recording"], recorded_hours=None))
    assert info.value.field == "components" and "93229" in info.value.reason
    reading = select_codes(
        facts(service="mobile_telemetry", components=["recording", "interpretation"], recorded_hours=None)
    )
    assert _lines(reading) == [("93228", ())]
    assert "attended_monitoring" in _rules(reading)
    centre = select_codes(facts(service="mobile_telemetry", components=["monitoring"], recorded_hours=None))
    assert _lines(centre) == [("93229", ())] and "attended_monitoring" not in _rules(centre)
    # the event recorder's hook-up has its own code (93270): nothing is dropped there
    event = select_codes(
        facts(service="event_monitor", components=["recording", "interpretation"], recorded_hours=None)
    )
    assert _lines(event) == [("93270", ()), ("93272", ())] and "attended_monitoring" not in _rules(event)


# -- setting and place of service (2.9) ----------------------------------------------------------------


def test_practitioner_in_facility_bills_professional_part_only() -> None:
    result = select_codes(
        facts(
            service="resting_ecg",
            place_of_service="22",
            components=["recording", "interpretation"],
            recorded_hours=None,
        )
    )
    assert _lines(result) == [("93010", ())]
    assert "facility_technical" in _rules(result)


def test_practitioner_in_facility_with_technical_part_only_is_refused() -> None:
    with pytest.raises(InputError) as info:
        select_codes(facts(service="resting_ecg", place_of_service="21", components=["recording"]))
    assert info.value.field == "components"


def test_hospital_outpatient_bills_technical_part_and_warns_about_professional() -> None:
    result = select_codes(
        facts(
            service="stress_test",
            setting="hospital_outpatient",
            place_of_service="22",
            components=["recording", "supervision", "interpretation"],
        )
    )
    assert _lines(result) == [("93017", ())]
    assert "hospital_professional" in _rules(result)


# -- modifiers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("repeat", "modifier"), [("same_physician", "76"), ("different_physician", "77")])
def test_repeat_ecg_same_day_gets_76_or_77(repeat: str, modifier: str) -> None:
    result = select_codes(
        facts(service="resting_ecg", components=["recording", "interpretation"], repeat=repeat)
    )
    assert _lines(result) == [("93000", (modifier,))]


def test_repeat_of_a_monitoring_service_is_an_error_finding() -> None:
    result = select_codes(facts(repeat="same_physician"))
    finding = next(f for f in result.findings if f.rule == "repeat_not_allowed")
    assert finding.severity is Severity.ERROR
    assert all("76" not in mods for _, mods in _lines(result))


def test_no_26_or_tc_on_component_codes() -> None:
    for components in (["interpretation"], ["recording"]):
        result = select_codes(facts(service="resting_ecg", components=components))
        assert all(not ({"26", "TC"} & set(mods)) for _, mods in _lines(result))


# -- necessity -----------------------------------------------------------------------------------------


def test_unsupported_diagnosis_with_abn_gets_ga() -> None:
    result = select_codes(facts(diagnoses=["M54.50"], abn_on_file=True))
    assert _lines(result) == [("93245", ("GA",))]


def test_unsupported_diagnosis_without_abn_warns_with_gz_advice() -> None:
    result = select_codes(facts(diagnoses=["M54.50"]))
    finding = next(f for f in result.findings if f.rule == "indication_list")
    assert finding.carc == "50"
    assert finding.fix is not None and "GZ" in finding.fix
    assert _lines(result) == [("93245", ())]


def test_screening_diagnosis_on_diagnostic_ecg_points_to_ippe() -> None:
    result = select_codes(
        facts(service="resting_ecg", components=["recording", "interpretation"], diagnoses=["Z00.00"])
    )
    finding = next(f for f in result.findings if f.rule == "screening_diagnosis")
    assert finding.fix is not None and "G0403" in finding.fix and "GY" in finding.fix


def test_event_monitor_longer_than_30_days_warns_about_periods() -> None:
    result = select_codes(
        facts(
            service="event_monitor",
            start="2024-08-01",
            end="2024-09-14",
            components=["recording", "monitoring", "interpretation"],
        )
    )
    assert "monitoring_period" in _rules(result)
    assert all(line.units == 1 for line in result.lines)


def test_json_shape() -> None:
    data = select_codes(facts()).to_dict()
    assert set(data) == {"lines", "explanations", "findings"}
    assert data["lines"] == [{"code": "93245", "modifiers": [], "units": 1}]


@pytest.mark.parametrize(
    ("start", "components", "expected"),
    [
        ("2010-12-31", ["recording", "monitoring", "interpretation"], [("93012", ()), ("93014", ())]),
        ("2010-06-01", ["recording", "monitoring"], [("93012", ())]),
        ("2010-06-01", ["interpretation"], [("93014", ())]),
        ("2011-01-01", ["recording", "monitoring", "interpretation"], [("93268", ())]),
    ],
)
def test_event_monitoring_before_2011_is_93012_93014(
    start: str, components: list[str], expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    result = select_codes(
        facts(service="event_monitor", components=components, start=start, end=None, recorded_hours=None)
    )
    assert sorted(_lines(result)) == expected
    legacy = expected[0][0] in ("93012", "93014")
    assert ("legacy_event_codes" in _rules(result)) is legacy
    assert any("before 2011" in s for s in result.explanations) is legacy
