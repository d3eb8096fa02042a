"""Coding facts derived from a study, at the duration boundaries of the ambulatory ECG code families."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, request

from ecgdesk.coding import Component, Service, Setting, claim_from_dict, facts_from_dict, select_codes
from ecgdesk.errors import InputError, NotFoundError, PermissionDeniedError
from ecgdesk.records import write_recording
from ecgdesk.store import Store
from ecgdesk.store.enums import Role, StudyStatus
from ecgdesk.store.models import AnalysisRun, Study
from ecgdesk.workflow.billing import (
    StudyFacts,
    claim_to_dict,
    code_study,
    derive_facts,
    facts_to_dict,
    mark_billed,
)
from ecgdesk.workflow.billing_view import billing_view
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.permissions import Principal
from ecgdesk.workflow.studies import create_study, import_recording, set_component

ALL = frozenset({Component.RECORDING, Component.SCANNING, Component.INTERPRETATION})
H = 3600.0

BASE = StudyFacts(
    service=Service.AMBULATORY_ECG,
    setting=Setting.PRACTITIONER,
    place_of_service="11",
    start=date(2025, 3, 3),
    recording_s=16 * 86400.0,
    analyzable_s=None,
    components=ALL,
    diagnoses=("R00.2",),
    signed=True,
    ordering_npi=ORDERING_NPI,
    interpreting_npi=PHYSICIAN_NPI,
    prescribed_days=None,
)

# (analyzable seconds, expected first code): Holter up to 48 h, 93241 family up to 7 days, 93245 up to 15.
BOUNDARIES = [
    (12 * H, "93224"),
    (48 * H, "93224"),
    (48.1 * H, "93241"),
    (7 * 24 * H, "93241"),
    ((7 * 24 + 8) * H, "93245"),
    (15 * 24 * H, "93245"),
]


@pytest.mark.parametrize(("analyzable_s", "code"), BOUNDARIES)
def test_family_follows_analyzable_hours(analyzable_s: float, code: str) -> None:
    facts = derive_facts(replace(BASE, analyzable_s=analyzable_s))
    assert facts.recorded_hours == pytest.approx(analyzable_s / H)
    lines = select_codes(facts).lines
    assert [line.code for line in lines] == [code]
    assert "52" not in lines[0].modifiers  # 12 h is not "less than 12 hours"


def test_analyzable_time_not_worn_time_chooses_the_code() -> None:
    """coding.md 2.2: the hours of analysable recording actually obtained choose the family. A patch worn
    50 h with 40 h analysable is a Holter (93224), not 93241; worn 16 days with nothing analysable is no
    service: until 2026-12-07 it was coded 93224-52."""
    worn = derive_facts(replace(BASE, recording_s=50 * H, analyzable_s=40 * H))
    assert [(x.code, x.modifiers) for x in select_codes(worn).lines] == [("93224", ())]
    with pytest.raises(InputError) as refused:
        select_codes(derive_facts(replace(BASE, analyzable_s=0.0)))
    assert refused.value.field == "recorded_hours"


def test_components_pick_the_component_codes() -> None:
    tech = derive_facts(
        replace(
            BASE, analyzable_s=8 * 24 * H, components=frozenset({Component.RECORDING, Component.SCANNING})
        )
    )
    prof = derive_facts(
        replace(BASE, analyzable_s=8 * 24 * H, components=frozenset({Component.INTERPRETATION}))
    )
    assert [line.code for line in select_codes(tech).lines] != [
        line.code for line in select_codes(prof).lines
    ]
    assert "93248" in {line.code for line in select_codes(prof).lines}


def test_facts_and_claim_round_trip_through_the_coding_parsers() -> None:
    from ecgdesk.coding import claim_for

    facts = derive_facts(replace(BASE, analyzable_s=190 * H, prescribed_days=8.0))
    assert facts_from_dict(facts_to_dict(facts)) == facts
    claim = claim_for(facts, select_codes(facts))
    assert claim_from_dict(claim_to_dict(claim)) == claim


def _signed_study_with_run(store: Store, record: Path, analyzable_s: float, **order: object) -> int:
    """A study whose stored analysis run says ``analyzable_s`` (a fake run: coding reads only the store)."""
    study_id = create_study(store, request(**order), "tech")
    import_recording(store, study_id, record, "tech")
    with store.transaction() as session:
        study = session.get(Study, study_id)
        assert study is not None and study.recording_id is not None
        session.add(
            AnalysisRun(
                study_id=study_id,
                recording_id=study.recording_id,
                algorithm_version="fake",
                input_hash="f" * 64,
                findings_json="{}",
                beats_sha256="0" * 64,
                beats_path="-",
                analyzable_s=analyzable_s,
                wear_s=analyzable_s,
                is_current=True,
                created_by="test",
                created_at=now(),
            )
        )
        from ecgdesk.store.models import Order

        order = session.get(Order, study.order_id)
        assert order is not None
        set_component(session, study_id, Component.SCANNING, "tech", None, order)
        set_component(session, study_id, Component.INTERPRETATION, "Ana A, MD", PHYSICIAN_NPI, order)
        study.status = StudyStatus.SIGNED.value
    return study_id


def _principal(username: str, role: Role, user_id: int = 0) -> Principal:
    return Principal(user_id, username, role, username, "test")


def _user(store: Store, username: str, role: Role, npi: str | None) -> Principal:
    """A user account (the physician's NPI is what ties them to a study's order or reading)."""
    from ecgdesk.store.models import User

    with store.transaction() as session:
        user = User(username=username, display_name=username, role=role.value, npi=npi, password_hash="-",
                    created_at=now())
        session.add(user)
        session.flush()
        return _principal(username, role, user.id)


def _reader(store: Store) -> Principal:
    """The physician who reads the studies of ``_signed_study_with_run`` (its interpretation's NPI)."""
    return _user(store, "physician", Role.PHYSICIAN, PHYSICIAN_NPI)


@pytest.mark.parametrize(("analyzable_s", "code"), [BOUNDARIES[2], BOUNDARIES[4]])
def test_code_study_uses_the_stored_run(
    store: Store, tiny_record: Path, analyzable_s: float, code: str
) -> None:
    study_id = _signed_study_with_run(store, tiny_record, analyzable_s)
    outcome = code_study(store, study_id, "biller")
    assert outcome.facts.recorded_hours == pytest.approx(analyzable_s / H)
    assert outcome.facts.components == ALL
    assert outcome.facts.provider_id == PHYSICIAN_NPI
    assert outcome.facts.interpretation_signed is False  # no signed report version in this fake study
    assert [line.code for line in outcome.claim.lines] == [code]
    assert any(f.rule for f in outcome.findings)  # the scrubber ran (at least its info findings)
    with store.transaction() as session:
        study = session.scalar(select(Study).where(Study.id == study_id))
        assert study is not None and study.status == "coded"


def test_stored_coding_pointing_to_the_first_four_diagnoses_is_out_of_date(
    store: Store, tiny_record: Path
) -> None:
    """A coding record written before a line pointed to its supporting diagnoses (coding.md 4.1-4.3: the
    symptom ordered fifth) is out of date: a claim built from it would point past the symptom."""
    study_id = _signed_study_with_run(store, tiny_record, 30 * H)
    with store.transaction() as session:
        from ecgdesk.store.models import CodingRecord, Order

        study = session.get(Study, study_id)
        assert study is not None
        order = session.get(Order, study.order_id)
        assert order is not None
        order.indications_json = json.dumps(["E78.5", "I10", "R53.83", "E11.9", "R00.2"])
    code_study(store, study_id, "biller")
    assert billing_view(store, study_id, "biller").stale == []
    with store.transaction() as session:
        record = session.scalars(select(CodingRecord).where(CodingRecord.study_id == study_id)).one()
        claim = json.loads(record.claim_json)
        assert [line["diagnosis_pointers"] for line in claim["lines"]] == [[1, 2, 3, 5]]
        claim["lines"][0]["diagnosis_pointers"] = [1, 2, 3, 4]  # as the older rule wrote it
        record.claim_json = json.dumps(claim)
    stale = billing_view(store, study_id, "biller").stale
    assert stale == ["93224's diagnosis pointers are now 1, 2, 3, 5 (coded as 1, 2, 3, 4)"]


def test_a_second_resting_ecg_of_the_day_is_a_repeat(store: Store, tiny_record: Path, tmp_path: Path) -> None:
    """coding.md 2.4: a repeat ECG the same day is billed with 76 (same physician) or 77. Until 2026-12-07
    no study could say so: the second ECG was coded 93000 bare and refused as a duplicate (CARC 18)."""
    other_tracing = write_recording(synthetic_recording(2.0, seed=4), tmp_path, "wfdb", "later")
    first = _signed_study_with_run(store, tiny_record, 120.0, service=Service.RESTING_ECG)
    second = _signed_study_with_run(store, other_tracing, 120.0, service=Service.RESTING_ECG)
    holter = _signed_study_with_run(store, tiny_record, 30 * H)  # monitoring: never a repeat
    assert [x.code for x in code_study(store, first, "biller").claim.lines] == ["93000"]
    outcome = code_study(store, second, "biller")
    assert [(x.code, x.modifiers) for x in outcome.claim.lines] == [("93000", ("76",))]
    assert "repeat_modifier" not in {f.rule for f in outcome.findings}
    assert [x.modifiers for x in code_study(store, holter, "biller").claim.lines] == [()]
    assert billing_view(store, first, "biller").stale == []  # the first of the day stays bare
    # the first tracing imported into a third study is the same test, not a repeat: no 76 to excuse it
    again = _signed_study_with_run(store, tiny_record, 120.0, service=Service.RESTING_ECG)
    assert [x.modifiers for x in code_study(store, again, "biller").claim.lines] == [()]


def test_coding_before_signing_is_refused(store: Store, tiny_record: Path) -> None:
    study_id = create_study(store, request(), "tech")
    import_recording(store, study_id, tiny_record, "tech")
    with pytest.raises(InputError, match="cannot code a study in status 'recorded'"):
        code_study(store, study_id, "biller")


@pytest.mark.parametrize("rules_id", ["medicare-mac", "commercial-default", "medicaid-default"])
def test_claim_form_dates_of_a_period_follow_its_parts_whatever_the_payer(rules_id: str) -> None:
    """Reference section 5 rule 4 wins over a payer's date convention for a monitoring period: the hook-up on
    the first day, the technical part at the early stop, the reading on the signature day. Before, the
    medicare-mac convention put the technical 93229 at the start of monitoring (commercial: every line); a
    patch (93245) keeps the payer's convention."""
    from ecgdesk.coding import claim_for
    from ecgdesk.coding.payer_rules import payer_rules
    from ecgdesk.workflow.claims import _line_dates

    rules = payer_rules(rules_id)
    period = replace(
        BASE,
        service=Service.MOBILE_TELEMETRY,
        start=date(2025, 3, 3),
        recording_s=9 * 86400.0,  # stopped early on the 9th day
        components=frozenset({Component.RECORDING, Component.MONITORING, Component.INTERPRETATION}),
        signed_on=date(2025, 3, 14),
    )
    event = replace(period, service=Service.EVENT_MONITOR, components=frozenset({Component.RECORDING}))
    patch = replace(BASE, analyzable_s=10 * 24 * H, signed_on=date(2025, 3, 20))
    dated = {}
    for study in (period, event, patch):
        facts = derive_facts(study)
        for line in claim_for(facts, select_codes(facts)).lines:
            dated[line.code] = _line_dates(line, rules.dos_convention(line.code), study.signed_on)
    assert dated["93228"] == (date(2025, 3, 14), None)
    assert dated["93229"] == (date(2025, 3, 11), None)
    assert dated["93270"] == (date(2025, 3, 3), None)
    patch_day = date(2025, 3, 20) if rules.dos_convention("93245") == "interpretation" else date(2025, 3, 3)
    assert dated["93245"] == (patch_day, None)


def test_an_ecg_at_a_holter_hook_up_marked_distinct_is_coded_with_its_modifier(
    store: Store, tiny_record: Path, tmp_path: Path
) -> None:
    """coding.md 2.7: the ECG at a Holter's hook-up (93224/93000, indicator 1) is denied without 59/XU. Until
    2026-12-07 no study could say it was distinct: coded bare, its claim was refused (97, ptp_history)."""
    from ecgdesk.store.models import AuditEntry
    from ecgdesk.workflow.billing_distinct import clear_distinct, mark_distinct

    biller = _principal("biller", Role.BILLER)

    holter = _signed_study_with_run(store, tiny_record, 30 * H)
    tracing = write_recording(synthetic_recording(2.0, seed=4), tmp_path, "wfdb", "ecg")
    ecg = _signed_study_with_run(store, tracing, 120.0, service=Service.RESTING_ECG)
    code_study(store, holter, "biller")
    bare = code_study(store, ecg, "biller")
    assert [f.carc for f in bare.findings if f.rule == "ptp_history"] == ["97"]
    for modifier, reason, field in (
        ("25", "x", "modifier"),
        ("XU", "  ", "reason"),
        ("XU", "a\nb", "reason"),
    ):
        with pytest.raises(InputError) as info:
            mark_distinct(store, ecg, modifier, reason, biller)
        assert info.value.field == field
    with pytest.raises(InputError, match="not marked"):
        clear_distinct(store, ecg, biller)
    mark = mark_distinct(store, ecg, " xu ", " Own order at 09:10, own report ", biller)
    assert mark == {"modifier": "XU", "reason": "Own order at 09:10, own report"}
    view = billing_view(store, ecg, "biller")
    assert view.distinct is not None and any("93000-XU" in s for s in view.stale)
    assert (view.distinct["modifier"], view.distinct["reason"], view.distinct["marked_by"]) == (
        mark["modifier"], mark["reason"], "biller"
    )
    outcome = code_study(store, ecg, "biller")
    assert [(x.code, x.modifiers) for x in outcome.claim.lines] == [("93000", ("XU",))]
    assert not [
        f for f in outcome.findings if f.rule in ("ptp_history", "distinct_modifier", "distinct_mark")
    ]
    # only the bundled line: the Holter, coded again, keeps no modifier and warns of no recoupment
    again = code_study(store, holter, "biller")
    assert [x.modifiers for x in again.claim.lines] == [()]
    assert not [f for f in again.findings if f.rule == "ptp_history"]
    mark_billed(store, holter, "biller", "CLM-1")  # a billed study's claim is out: its mark stays as billed
    with pytest.raises(InputError, match="cannot mark as a distinct service a study in status 'billed'"):
        mark_distinct(store, holter, "XU", "late", biller)
    clear_distinct(store, ecg, _reader(store))
    assert any("93000" in s for s in billing_view(store, ecg, "biller").stale)
    with store.transaction() as session:
        rows = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == str(ecg), AuditEntry.action.like("coding:distinct%")
            )
        ).all()
        assert [(r.action, r.actor) for r in rows] == [
            ("coding:distinct", "biller"),
            ("coding:distinct-removed", "physician"),
        ]
        assert json.loads(rows[1].before_json)["reason"] == "Own order at 09:10, own report"


def test_only_a_biller_or_the_studys_own_physician_marks_it_distinct_and_the_study_shows_the_mark(
    store: Store, tiny_record: Path
) -> None:
    """Until 2026-12-07 any physician could mark any study distinct (the role alone was checked), and the
    mark, who set it and when were on the billing page only: ``study show`` and GET /studies/{id} said
    nothing. Now a physician marks only a study they ordered or read (refused and audited otherwise), an
    administrator or a technician never, and the study's view carries the mark with its author and time."""
    from ecgdesk.store.models import AuditEntry
    from ecgdesk.workflow.billing_distinct import clear_distinct, mark_distinct
    from ecgdesk.workflow.views import show_study

    ecg = _signed_study_with_run(store, tiny_record, 120.0, service=Service.RESTING_ECG)
    stranger = _user(store, "other", Role.PHYSICIAN, "1003000126")
    for who in (stranger, _principal("boss", Role.ADMIN), _principal("tech", Role.TECHNICIAN)):
        with pytest.raises(PermissionDeniedError) as refused:
            mark_distinct(store, ecg, "XU", "own order", who)
        assert "study:distinct" in str(refused.value)
        assert ("ordering or interpreting physician" in str(refused.value)) == (who is stranger)
    with pytest.raises(PermissionDeniedError, match=f"not study {ecg}'s ordering or interpreting physician"):
        clear_distinct(store, ecg, stranger)
    assert show_study(store, ecg).distinct is None
    with pytest.raises(NotFoundError):  # not a refusal as someone else's study
        mark_distinct(store, ecg + 99, "XU", "own order", stranger)
    with store.transaction() as session:
        refusals = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "auth:forbidden", AuditEntry.entity_id == str(ecg))
        ).all()
        assert [r.actor for r in refusals] == ["other", "boss", "tech", "other"]
    reader = _reader(store)
    mark_distinct(store, ecg, "XS", "own order at 09:10", reader)
    ordering = _user(store, "orderer", Role.PHYSICIAN, ORDERING_NPI)
    mark_distinct(store, ecg, "XU", "own order at 09:10, own report", ordering)
    view = show_study(store, ecg, reader)
    assert view.distinct is not None
    assert (view.distinct.modifier, view.distinct.reason, view.distinct.marked_by) == (
        "XU", "own order at 09:10, own report", "orderer"
    )
    assert view.distinct.marked_at is not None and view.distinct.marked_at.tzinfo is not None
    assert view.to_dict()["distinct"]["marked_by"] == "orderer"
    clear_distinct(store, ecg, _principal("biller", Role.BILLER))
    assert show_study(store, ecg).distinct is None
