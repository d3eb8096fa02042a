"""Line matching, denial triage (categories, next actions, deadlines) and payer rule sets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from ecgdesk.claims.denials import (
    Action,
    AppealFacts,
    Category,
    DenialContext,
    allowed_actions,
    denial_rules,
    draft_appeal,
    is_routine,
    triage,
)
from ecgdesk.claims.matching import BilledLine, match_lines
from ecgdesk.claims.remit import RemitLine
from ecgdesk.coding import Claim, ClaimLine, Setting
from ecgdesk.coding.payer_rules import payer_findings, payer_rules, rule_sets
from ecgdesk.errors import InputError

DOS = date(2026, 11, 2)


def remit_line(
    code: str,
    charge: str,
    *,
    mods: tuple[str, ...] = (),
    control: str | None = None,
    submitted: str | None = None,
    day: date = DOS,
) -> RemitLine:
    return RemitLine(
        "HC", code, mods, Decimal(charge), Decimal(0), None, submitted, (), control, day, day, (), (), None, 0
    )


BILLED = [
    BilledLine(1, "C1L1", "93000", (), DOS, Decimal("40")),
    BilledLine(2, "C1L2", "93000", ("76",), DOS, Decimal("40")),
    BilledLine(3, "C1L3", "93010", ("26",), DOS, Decimal("25")),
]


def test_lines_match_by_control_then_submitted_code_then_code_date_charge() -> None:
    found = match_lines(
        [
            remit_line("93000", "40", mods=("76",), control="C1L2"),
            remit_line("93005", "25", submitted="93010"),  # payer restated the code; SVC06 has ours
            remit_line("93000", "-40"),  # reversal amounts are negative; modifiers dropped
            remit_line("93000", "40", day=date(2026, 11, 3)),
        ],
        BILLED,
    )
    assert [(m.billed.key if m.billed else None, m.how) for m in found] == [
        (2, "control"),
        (3, "submitted_code"),
        (1, "code_date_charge"),
        (None, ""),
    ]


def test_same_code_lines_without_control_prefer_the_exact_modifiers() -> None:
    found = match_lines([remit_line("93000", "40", mods=("76",)), remit_line("93000", "40")], BILLED[:2])
    assert [m.billed.key for m in found if m.billed] == [2, 1]


def test_the_svc_loops_of_a_split_or_unbundled_line_all_match_that_line() -> None:
    """005010X221A1 1.10.2.14 (RFI 2283): unbundled, the first loop has the billed charge and the others
    $0.00 with the billed code in SVC06; split, the loops share the charge and echo REF*6R. Loops whose
    charges would pass the billed charge are not the billed line's."""
    found = match_lines(
        [
            remit_line("93005", "25", submitted="93010"),
            remit_line("93040", "0", submitted="93010"),  # unbundled: $0.00, SVC06 names the billed code
            remit_line("93000", "15", control="C1L1"),
            remit_line("93000", "25", control="C1L1"),  # split: the rest of line 1's charge
            remit_line("93000", "5", control="C1L1"),  # more than line 1's charge: not line 1's
            remit_line("93005", "1", submitted="93010", day=date(2026, 11, 3)),  # another day
        ],
        BILLED,
    )
    assert [(m.billed.key if m.billed else None, m.how) for m in found] == [
        (3, "submitted_code"),
        (3, "split"),
        (1, "control"),
        (1, "split"),
        (None, ""),
        (None, ""),
    ]


def _context(rules: str = "medicare-mac", **fields: object) -> DenialContext:
    return DenialContext(payer_rules(rules), date(2026, 12, 1), DOS, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("group", "carc", "category", "action", "days"),
    [
        ("CO", "50", Category.NECESSITY, Action.APPEAL, 120),
        ("CO", "236", Category.BUNDLING, Action.WRITE_OFF, 0),
        ("CO", "4", Category.MODIFIER, Action.REOPENING, 365),
        ("CO", "16", Category.MISSING_INFORMATION, Action.NEW_ORIGINAL, None),
        ("CO", "18", Category.DUPLICATE, Action.WRITE_OFF, 0),
        ("CO", "29", Category.TIMELY_FILING, Action.WRITE_OFF, 0),
        ("CO", "109", Category.ELIGIBILITY, Action.NEW_ORIGINAL, None),
        ("PR", "2", Category.PATIENT_RESPONSIBILITY, Action.BILL_PATIENT, 30),
        ("PR", "50", Category.NECESSITY, Action.BILL_PATIENT, 30),
        ("CO", "ZZ9", Category.OTHER, Action.APPEAL, 120),
    ],
)
def test_medicare_triage(group: str, carc: str, category: Category, action: Action, days: int | None) -> None:
    result = triage(group, carc, ["N115"] if carc == "50" else [], _context())
    assert result is not None
    assert (result.category, result.action) == (category, action)
    if days is None:
        assert result.deadline == DOS + timedelta(days=365)
    else:
        assert result.deadline == date(2026, 12, 1) + timedelta(days=days)
    assert "medicare-mac" in result.reason


def test_routine_contractual_adjustments_need_no_work() -> None:
    assert is_routine("CO", "45") and triage("CO", "45", [], _context()) is None
    assert triage("CO", "253", [], _context()) is None


def test_commercial_corrections_are_frequency_7_and_appeals_180_days() -> None:
    corrected = triage("CO", "4", [], _context("commercial-default"))
    assert corrected is not None and corrected.action is Action.CORRECT and "frequency 7" in corrected.reason
    appeal = triage("CO", "50", [], _context("commercial-default"))
    assert appeal is not None and appeal.deadline == date(2026, 12, 1) + timedelta(days=180)


def test_patient_share_goes_to_the_secondary_unless_crossed_over() -> None:
    secondary = triage("PR", "1", [], _context(has_secondary=True))
    assert secondary is not None and secondary.action is Action.BILL_SECONDARY
    crossed = triage("PR", "1", [], _context(has_secondary=True, crossover=True))
    assert crossed is not None and crossed.action is Action.BILL_PATIENT


@pytest.mark.parametrize("rules", sorted({r.id for r in rule_sets()}))
@pytest.mark.parametrize("later_claim", [False, True], ids=["primary", "secondary_or_tertiary"])
def test_every_suggested_action_is_one_the_work_queue_accepts(rules: str, later_claim: bool) -> None:
    """Each CARC of the rules under each group code, on a primary claim and on a secondary or tertiary claim
    we billed, with or without a next payer and a crossover: the suggested action is one working the item
    accepts (claims_denials.work_denial refuses what allowed_actions leaves out; bill_secondary takes only a
    PR share with a next payer and no crossover; a payer taking reopenings refuses `correct`; a secondary
    claim its payer decided takes a replacement, never a new original). Before, CO-16 on a secondary claim
    said `new_original` and CO-22 said `bill_secondary`, both refused."""
    for carc in [*denial_rules().carc, "ZZ9"]:
        for group in ("CO", "OA", "PI", "PR"):
            for crossover in (False, True):
                for has_next in (False, True):
                    context = _context(
                        rules, crossover=crossover, has_secondary=has_next, later_claim=later_claim
                    )
                    found = triage(group, carc, [], context)
                    if found is None:
                        continue
                    where = f"{group}-{carc} crossover={crossover} next={has_next} ({rules})"
                    reopening = payer_rules(rules).corrected_claim == "reopening"
                    assert found.action in allowed_actions(group, crossover, "", reopening), where
                    if found.action is Action.BILL_SECONDARY:
                        assert group == "PR" and has_next and not crossover, where
                    if found.action is Action.CORRECT:
                        assert payer_rules(rules).corrected_claim != "reopening", where
                    if later_claim:
                        assert found.action is not Action.NEW_ORIGINAL, where


def test_the_actions_offered_are_those_working_an_item_accepts() -> None:
    """What the work form offers: a CO item is billed to neither the patient nor the next payer (the
    secondary claim takes only a PR share), a crossed-over PR item not to the next payer, a payer taking
    reopenings takes no frequency-7 correction, an overpayment is only refunded. Before, bill_secondary was
    offered on CO items and correct on Medicare items, both refused."""
    co = allowed_actions("CO", False)
    assert Action.BILL_PATIENT not in co and Action.BILL_SECONDARY not in co and Action.REFUND not in co
    assert Action.CORRECT in co and Action.NEW_ORIGINAL in co
    assert Action.BILL_SECONDARY in allowed_actions("PR", False)
    assert Action.BILL_SECONDARY not in allowed_actions("PR", True)
    medicare = allowed_actions("CO", False, "", reopening=True)
    assert Action.CORRECT not in medicare and Action.REOPENING in medicare
    assert allowed_actions("CO", False, "overpayment") == [Action.REFUND]
    # CO-29 is not an initial determination (claims-lifecycle.md section 3): until 2026-12-07 its item,
    # saying "no appeal", was offered `appeal`, which drafted a redetermination letter and parked the claim
    late = allowed_actions("CO", False, "timely_filing")
    assert Action.APPEAL not in late and Action.WRITE_OFF in late and Action.CORRECT in late


def test_mue_denials_follow_the_adjudication_indicator() -> None:
    actions = [triage("CO", "151", ["N362"], _context(mue_mai=m)) for m in (1, 2, 3)]
    assert [a.action for a in actions if a] == [Action.REOPENING, Action.WRITE_OFF, Action.APPEAL]


def test_appeal_letter_cites_report_indications_and_policy() -> None:
    facts = AppealFacts(
        "MEDICARE PART B",
        "redetermination",
        "HEART DIAGNOSTICS IDTF",
        "1234567893",
        "DOE, JANE",
        "1EG4",
        "ECG000001",
        "2200001",
        DOS,
        "93241",
        "extended monitoring, complete",
        (),
        "$300.00",
        "CO-50 $300.00",
        ("N115",),
        (("R00.2", "palpitations"),),
        "LCD L39490 (illustrative list)",
        "Sinus rhythm with paroxysmal AF.",
        "Dana Demo, MD",
        "2026-11-10T12:00:00+00:00",
        "ab" * 32,
        date(2026, 12, 1),
        date(2027, 3, 31),
    )
    letter = draft_appeal(facts, date(2026, 12, 5))
    for part in (
        "redetermination",
        "requested by 2027-03-31",
        "Sinus rhythm with paroxysmal AF.",
        "Dana Demo, MD",
        "LCD L39490",
        "N115",
        "ECG000001",
        "R00.2: palpitations",
    ):
        assert part in letter


def _claim(code: str, day: date = DOS, modifiers: tuple[str, ...] = ()) -> Claim:
    return Claim(Setting.PRACTITIONER, "11", (ClaimLine(code, day, modifiers),), ("R00.2",))


def test_payer_rules_timely_filing_authorization_abn_and_frequency() -> None:
    medicare, commercial = payer_rules("medicare-mac"), payer_rules("commercial-default")
    late = payer_findings(_claim("93000", date(2025, 1, 2)), medicare, today=date(2026, 1, 3))
    assert [(f.rule, f.carc) for f in late] == [("timely_filing", "29")]
    assert "medicare-mac" in late[0].message
    assert not payer_findings(_claim("93000", date(2025, 1, 2)), medicare, today=date(2026, 1, 2))
    auth = payer_findings(_claim("93229"), commercial, today=DOS)
    assert [f.rule for f in auth] == ["prior_authorization"]
    assert not payer_findings(_claim("93229"), commercial, today=DOS, authorization="A1")
    abn = payer_findings(_claim("93000", modifiers=("GA",)), commercial, today=DOS)
    assert [f.rule for f in abn] == ["abn_modifier"]
    assert not payer_findings(_claim("93000", modifiers=("GA",)), medicare, today=DOS)
    repeat = payer_findings(_claim("93241", date(2026, 11, 20)), medicare, DOS, history=[_claim("93242")])
    assert [f.rule for f in repeat] == ["frequency_limit"]


def test_rule_sets_have_sources_and_dos_conventions() -> None:
    for rules in rule_sets():
        assert rules.source and rules.effective_from <= date(2026, 1, 1)
    medicare = payer_rules("medicare-mac", DOS)
    assert medicare.dos_convention("93241") == "interpretation"
    assert medicare.dos_convention("93242") == "start"
    assert payer_rules("commercial-default").corrected_claim == "frequency_7"
    with pytest.raises(InputError):
        payer_rules("nope")
