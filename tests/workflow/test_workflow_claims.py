"""Claims from coded studies: create and scrub, export (pyx12-valid, control numbers never repeat),
acknowledgements, 835 posting with the ledger and the denial queue, corrections, A/R aging."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import MEDICARE, add_people, coded_study, copy_store, three_coded_studies
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims import read_remittances
from ecgdesk.claims.payer_sim import (
    ClaimStatus as AckStatus,
)
from ecgdesk.claims.payer_sim import (
    Denial,
    Parties,
    PayerProfile,
    adjudicate,
    reverse,
    write_277ca,
    write_835,
    write_999,
)
from ecgdesk.claims.remit import ProviderAdjustment
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.errors import InputError
from ecgdesk.store import Store, open_store, verify
from ecgdesk.store.claims_models import ClaimRow, LedgerRow
from ecgdesk.store.models import AuditEntry, Study
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_acks import apply_ack
from ecgdesk.workflow.claims_denials import list_denials, work_denial
from ecgdesk.workflow.claims_export import ClaimEdits, LineEdit, correct_claim, export_claims
from ecgdesk.workflow.claims_inbound import post_remittance, unmatched
from ecgdesk.workflow.claims_views import ar_aging, list_claims, patient_balance, show_claim

PARTIES = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    folder = tmp_path_factory.mktemp("claims")
    return three_coded_studies(folder, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    opened = copy_store(template, tmp_path / "copy", request.param)
    yield opened
    opened.close()


def _pyx12(text: str, tmp_path: Path, store: Store) -> list[str]:
    """pyx12's errors on an exported 837P, once x12sdk (a second, independent parser) has read the same
    claims back from it as the store holds them."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
    from claims_builders import pyx12_errors, x12sdk_claims, x12sdk_summary

    ids = [s.split("*")[1] for s in text.replace("\n", "").split("~") if s.startswith("CLM*")]
    expected = [x12sdk_summary(c) for c in _claims_of(store, ids)]
    assert sorted(x12sdk_claims(text), key=str) == sorted(expected, key=str)
    return pyx12_errors(text, tmp_path)


def _exported(store: Store, tmp_path: Path, payer: str = "12345") -> tuple[list[str], Path]:
    ids = [create_claim(store, s, "biller").claim_id for s in (1, 2)]
    (exported,) = export_claims(store, tmp_path / "out", "biller", payer=payer)
    return ids, exported.path


def _claims_of(store: Store, ids: list[str]) -> list:
    with store.transaction() as session:
        rows = session.scalars(select(ClaimRow).where(ClaimRow.claim_number.in_(ids)).order_by(ClaimRow.id))
        return [claim_from_dict(json.loads(r.claim_json)["claim"]) for r in rows]


def test_create_export_and_study_billed(store: Store, tmp_path: Path) -> None:
    made = create_claim(store, 1, "biller")
    assert made.status == "scrubbed" and made.claim_id == "ECG0000001" and not made.errors
    (claim,) = _claims_of(store, [made.claim_id])
    assert [x.code for x in claim.lines] == ["93224"] and claim.lines[0].modifiers == ("52",)
    assert claim.lines[0].charge == Decimal("143.80")  # 2 x the 2024 national amount $71.90
    assert claim.rendering is not None and claim.rendering.last == "Lee"
    assert claim.lines[0].ordering is not None and claim.lines[0].ordering.npi == "1245319599"
    files = export_claims(store, tmp_path / "out", "biller")
    assert [f.claims for f in files] == [["ECG0000001"]]
    text = files[0].path.read_text()
    assert _pyx12(text, tmp_path, store) == []
    assert "REF*6R*ECG0000001L1~" in text and "CLM*ECG0000001*143.8***11:B:1" in text
    with store.transaction() as session:
        assert session.get(Study, 1).status == "billed"  # type: ignore[union-attr]
    assert [c.status for c in list_claims(store, "biller")] == ["exported"]
    assert export_claims(store, tmp_path / "out", "biller") == []  # nothing left to send


def test_control_numbers_never_repeat(store: Store, tmp_path: Path) -> None:
    create_claim(store, 1, "biller")
    first = export_claims(store, tmp_path / "a", "biller")
    create_claim(store, 2, "biller")
    second = export_claims(store, tmp_path / "b", "biller")
    assert first[0].interchange_control != second[0].interchange_control
    isa = [f.path.read_text().split("~")[0].split("*")[13] for f in (*first, *second)]
    assert len(set(isa)) == 2


def test_claim_with_scrubber_errors_is_never_exported(store: Store, tmp_path: Path) -> None:
    late = create_claim(store, 1, "biller", today=date.today() + timedelta(days=400))
    assert late.status == "created" and any("filing limit" in e for e in late.errors)
    assert export_claims(store, tmp_path / "out", "biller") == []
    with pytest.raises(InputError) as info:
        export_claims(store, tmp_path / "out", "biller", claim_refs=[late.claim_id])
    assert late.claim_id in str(info.value) and "filing limit" in str(info.value)
    assert not list((tmp_path / "out").glob("*.x12"))
    again = create_claim(store, 1, "biller")  # rebuilt in place once the problem is gone
    assert again.claim_id == late.claim_id and again.status == "scrubbed"


def test_missing_coverage_and_billing_set_up_are_named(tmp_path: Path, tiny_record: Path) -> None:  # noqa: F811
    store = open_store(url=f"sqlite:///{tmp_path / 'db.sqlite'}", home=tmp_path / "home")
    add_people(store)
    from workflow_builders import PIN, fake_analyzer, request

    from ecgdesk.workflow.analysis import analyze_study
    from ecgdesk.workflow.billing import code_study
    from ecgdesk.workflow.reporting import interpret, report_study, sign
    from ecgdesk.workflow.studies import create_study, import_recording

    study = create_study(store, request(), "tech")
    import_recording(store, study, tiny_record, "tech")
    analyze_study(store, study, "tech", analyzer=fake_analyzer)
    report_study(store, study, "tech")
    interpret(store, study, "dr.a", "Normal.")
    sign(store, study, "dr.a", PIN)
    code_study(store, study, "biller")
    with pytest.raises(InputError, match="no primary coverage"):
        create_claim(store, study, "biller")


def test_999_rejection_then_new_original(store: Store, tmp_path: Path) -> None:
    ids, path = _exported(store, tmp_path)
    group = path.read_text().split("~")[1].split("*")[6]
    ack = tmp_path / "reject.999"
    ack.write_text(write_999(group, ["0001"], False, PARTIES))
    result = apply_ack(store, ack, "biller")
    assert {c["claim_id"]: c["status"] for c in result.claims} == dict.fromkeys(ids, "rejected")
    assert apply_ack(store, ack, "biller").duplicate
    fixed = correct_claim(store, ids[0], "biller")
    assert fixed.frequency == "1" and fixed.status == "scrubbed"
    (exported,) = export_claims(store, tmp_path / "out2", "biller")
    assert exported.claims == [fixed.claim_id]
    text = exported.path.read_text()
    assert "REF*F8" not in text and _pyx12(text, tmp_path, store) == []
    assert show_claim(store, ids[0], "biller").summary.status == "corrected"


def test_277ca_acceptance_and_rejection(store: Store, tmp_path: Path) -> None:
    ids, _ = _exported(store, tmp_path)
    claims = _claims_of(store, ids)
    ack = tmp_path / "ack.277"
    ack.write_text(
        write_277ca(
            [
                AckStatus(claims[0], "A2", "20", payer_claim_number="2200000000007"),
                AckStatus(claims[1], "A7", "562", "85"),
            ],
            PARTIES,
        )
    )
    result = apply_ack(store, ack, "biller")
    assert [(c["claim_id"], c["status"]) for c in result.claims] == [
        (ids[0], "accepted"),
        (ids[1], "rejected"),
    ]
    detail = show_claim(store, ids[1], "biller")
    assert "rejected for invalid information" in detail.acknowledgements[0]["detail"]
    assert show_claim(store, ids[0], "biller").payer_claim_number == "2200000000007"


def test_a_corrected_claim_shows_no_balance_of_its_own(store: Store, tmp_path: Path) -> None:
    """The 277CA rejects a claim, the biller sends a new original of it: the claims list and the billing
    page's claim head show the rejected (corrected) claim with no insurance balance, as A/R aging and the
    patient's balance count it (its money is the new claim's). Before, the list showed its charge as open
    with the insurer beside the new claim's, so the rows summed to twice what aging said."""
    ids, _ = _exported(store, tmp_path)
    claims = _claims_of(store, ids)
    ack = tmp_path / "ack.277"
    ack.write_text(write_277ca([AckStatus(claims[1], "A7", "562", "85")], PARTIES))
    apply_ack(store, ack, "biller")
    fixed = correct_claim(store, ids[1], "biller")
    listed = {c.claim_id: c for c in list_claims(store, "biller")}
    old = listed[ids[1]]
    assert (old.status, old.insurance_balance, old.patient_balance) == ("corrected", "0.00", "0.00")
    assert listed[fixed.claim_id].insurance_balance == old.charge
    total = sum(Decimal(c.insurance_balance) for c in listed.values() if c.exported_at)
    assert f"{total:.2f}" == ar_aging(store).to_dict()["total"]["total"]
    assert show_claim(store, ids[1], "biller").summary.insurance_balance == "0.00"


def _post(store: Store, tmp_path: Path, claims: list, name: str, **kwargs: object) -> dict:
    profile = PayerProfile("MEDICARE PART B", "12345", fee_schedule={"93224": Decimal("71.90")}, **kwargs)  # type: ignore[arg-type]
    decided = adjudicate(claims, profile)
    path = tmp_path / name
    path.write_text(write_835(decided, PARTIES, f"EFT-{name}", date.today()))
    return post_remittance(store, path, "biller").to_dict()


def test_posting_pays_and_the_same_835_twice_posts_nothing(store: Store, tmp_path: Path) -> None:
    ids, _ = _exported(store, tmp_path)
    claims = _claims_of(store, ids)
    first = _post(store, tmp_path, claims, "pay.835")
    assert first["posted"] == 2 and first["unmatched"] == []
    paid = first["claims"][0]
    assert paid["status"] == "paid" and paid["paid"] == "57.52" and paid["patient_responsibility"] == "14.38"
    assert {(a["group"], a["carc"], a["line"]) for a in paid["adjustments"]} == {
        ("CO", "45", 1),
        ("PR", "2", 1),
    }
    second = post_remittance(store, tmp_path / "pay.835", "biller").to_dict()
    assert second["posted"] == 0 and second["duplicates"]
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(LedgerRow)) == 6
    balance = show_claim(store, ids[0], "biller").balance
    assert balance["insurance_balance"] == "0.00" and balance["patient_balance"] == "14.38"
    assert patient_balance(store, "P1")["patient_balance"] == "14.38"
    items = list_denials(store, "biller")
    assert {i.category for i in items} == {"patient_responsibility"}
    assert all(i.next_action == "bill_patient" for i in items)


def test_unbalanced_835_posts_nothing_and_unknown_claims_are_queued(store: Store, tmp_path: Path) -> None:
    ids, _ = _exported(store, tmp_path)
    claims = _claims_of(store, ids)
    decided = adjudicate(claims, PayerProfile("MEDICARE PART B", "12345"))
    text = write_835(decided, PARTIES, "EFT9", date.today())
    bad = tmp_path / "bad.835"
    bad.write_text(text.replace("BPR*I*", "BPR*I*1", 1))
    with pytest.raises(InputError, match="BPR02"):
        post_remittance(store, bad, "biller")
    with store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(LedgerRow)) == 0
    from dataclasses import replace

    stranger = replace(decided[0], claim_id="NOTOURS1")
    path = tmp_path / "stranger.835"
    path.write_text(write_835([stranger, decided[1]], PARTIES, "EFT10", date.today()))
    result = post_remittance(store, path, "biller").to_dict()
    assert result["posted"] == 1 and result["unmatched"][0]["claim_id"] == "NOTOURS1"
    assert [u["claim_id"] for u in unmatched(store, "biller")] == ["NOTOURS1"]


def test_denial_queue_appeal_letter_and_write_off(store: Store, tmp_path: Path) -> None:
    ids, _ = _exported(store, tmp_path)
    claims = _claims_of(store, ids)
    result = _post(store, tmp_path, claims, "deny.835", deny={"93224": Denial("CO", "50", "N115")})
    assert [c["status"] for c in result["claims"]] == ["denied", "denied"]
    items = list_denials(store, "biller")
    assert [(i.category, i.next_action) for i in items] == [("necessity", "appeal")] * 2
    assert items[0].deadline == (date.today() + timedelta(days=120)).isoformat()
    worked = work_denial(store, items[0].id, "appeal", "biller", note="records sent")
    assert worked.claim_status == "appealed" and worked.letter is not None
    letter = worked.letter.read_text()
    for part in ("redetermination", "Sinus rhythm 62-118 bpm", "R00.2", "N115", "Ana Lee, MD", ids[0]):
        assert part in letter
    with pytest.raises(InputError, match="already worked"):
        work_denial(store, items[0].id, "write_off", "biller")
    with pytest.raises(InputError, match="never billed to the patient"):
        work_denial(store, items[1].id, "bill_patient", "biller")
    off = work_denial(store, items[1].id, "write_off", "biller")
    assert off.claim_status == "written_off" and off.item.worked_by == "biller"
    assert show_claim(store, ids[1], "biller").balance["insurance_balance"] == "0.00"
    aging = ar_aging(store).to_dict()
    assert aging["payers"][0]["payer"] == "12345" and aging["payers"][0]["claims"]["0-30"] == 1
    assert aging["total"]["total"] == "143.80"  # the appealed claim is still open A/R
    with store.transaction() as session:
        assert verify(session).ok


def test_reversal_and_correction_crossover_and_plb(store: Store, tmp_path: Path) -> None:
    ids, _ = _exported(store, tmp_path)
    claims = _claims_of(store, ids)
    decided = adjudicate(claims, PayerProfile("MEDICARE PART B", "12345", crossover_to="MEDIGAP PLAN"))
    plb = [ProviderAdjustment("1234567893", date(2026, 12, 31), "L6", ids[0], Decimal("-1.27"), 0)]
    path = tmp_path / "a.835"
    path.write_text(write_835(decided, PARTIES, "EFT-A", date.today(), provider_adjustments=plb))
    first = post_remittance(store, path, "biller").to_dict()
    assert all(c["crossover"] for c in first["claims"])
    assert first["provider_adjustments"] == [
        {"provider": "1234567893", "reason": "L6", "reference": ids[0], "amount": "-1.27"}
    ]
    items = list_denials(store, "biller")
    assert all(i.next_action == "bill_patient" for i in items)  # crossed over: no secondary from us
    with pytest.raises(InputError):
        work_denial(store, items[0].id, "bill_secondary", "biller")
    again = adjudicate(
        claims[:1], PayerProfile("MEDICARE PART B", "12345", fee_schedule={"93224": Decimal("60")})
    )
    path = tmp_path / "b.835"
    path.write_text(write_835([reverse(decided[0]), *again], PARTIES, "EFT-B", date.today()))
    second = post_remittance(store, path, "biller").to_dict()
    assert [c["status"] for c in second["claims"]] == ["reversed", "paid"]
    balance = show_claim(store, ids[0], "biller").balance
    assert balance["paid"] == "48.00" and balance["insurance_balance"] == "0.00"
    assert balance["patient_responsibility"] == "12.00"


def test_commercial_correction_is_frequency_7_with_ref_f8(store: Store, tmp_path: Path) -> None:
    made = create_claim(store, 3, "biller")
    export_claims(store, tmp_path / "out", "biller", payer="ACME1")
    claims = _claims_of(store, [made.claim_id])
    _post(store, tmp_path, claims, "acme.835", deny={"93224": Denial("CO", "4", None)})
    (item,) = [i for i in list_denials(store, "biller") if i.carc == "4"]
    assert item.next_action == "correct" and "frequency 7" in item.reason
    worked = work_denial(
        store,
        item.id,
        "correct",
        "biller",
        edits=ClaimEdits(lines=(LineEdit(1, modifiers=("52",)),), prior_authorization="PA-77"),
    )
    assert worked.new_claim is not None
    (exported,) = export_claims(store, tmp_path / "out2", "biller", payer="ACME1")
    text = exported.path.read_text()
    assert (
        "11:B:7" in text
        and "REF*F8*2200000000001~" in text
        and "SV1*HC:93224:52*" in text
        and "REF*G1*PA-77~" in text
    )
    assert _pyx12(text, tmp_path, store) == []
    medicare = create_claim(store, 1, "biller")
    export_claims(store, tmp_path / "out3", "biller", payer="12345")
    _post(
        store,
        tmp_path,
        _claims_of(store, [medicare.claim_id]),
        "mc.835",
        deny={"93224": Denial("CO", "4", None)},
    )
    with pytest.raises(InputError, match="reopenings"):
        correct_claim(store, medicare.claim_id, "biller")


def test_a_correction_held_by_its_scrub_is_audited_as_an_original_is(store: Store, tmp_path: Path) -> None:
    """A correction whose scrub finds an error stays `created` (never exported) and, as an original held so
    does, has a `claim:scrub` audit row with its error count (claims-lifecycle.md: every move audited).
    Before, the correction path wrote its scrub row without the count, so a held correction had none."""
    made = create_claim(store, 3, "biller")
    export_claims(store, tmp_path / "out", "biller", payer="ACME1")
    denied = {"93224": Denial("CO", "4", None)}
    _post(store, tmp_path, _claims_of(store, [made.claim_id]), "acme.835", deny=denied)
    late = correct_claim(store, made.claim_id, "biller", today=date.today() + timedelta(days=400))
    assert late.status == "created" and any("filing limit" in e for e in late.errors)
    held = create_claim(store, 1, "biller", today=date.today() + timedelta(days=400))
    assert held.status == "created"

    def scrubs(claim_id: str) -> list[tuple[str, object]]:
        history = show_claim(store, claim_id, "biller").history
        rows = [h["after"] for h in history if h["action"] == "claim:scrub"]
        return [(after["status"], after.get("errors")) for after in rows]

    assert scrubs(held.claim_id) == [("created", len(held.errors))]
    assert scrubs(late.claim_id) == [("created", len(late.errors))]


def test_the_correction_offered_is_the_one_correct_makes(store: Store, tmp_path: Path) -> None:
    """The billing page's correct button (ClaimDetail.correction): a replacement of Acme's adjudicated claim,
    none for Medicare's (it takes reopenings: correct is refused), a new original of a rejected claim, and
    a rejected replacement again as a replacement. Before, the page offered "Correct (frequency 7)" on the
    Medicare claim (refused) and "New original claim" on the rejected replacement (sent as frequency 7)."""
    acme = create_claim(store, 3, "biller")
    export_claims(store, tmp_path / "acme", "biller", payer="ACME1")
    medicare = create_claim(store, 1, "biller")
    export_claims(store, tmp_path / "mc", "biller", payer="12345")
    denied = {"93224": Denial("CO", "4", None)}
    _post(store, tmp_path, _claims_of(store, [acme.claim_id, medicare.claim_id]), "both.835", deny=denied)
    assert show_claim(store, medicare.claim_id, "biller").correction is None
    with pytest.raises(InputError, match="reopenings"):
        correct_claim(store, medicare.claim_id, "biller")
    assert show_claim(store, acme.claim_id, "biller").correction == "replacement"
    # every line dropped: no replacement to send, and no void (frequency 8) to point at (until 2026-12-07
    # the refusal said 'void the claim instead', an action there is not)
    with pytest.raises(InputError, match="not offered") as refused:
        correct_claim(store, acme.claim_id, "biller", ClaimEdits(drop=(1,)))
    assert refused.value.field == "drop" and "reversal" in str(refused.value)
    made = correct_claim(store, acme.claim_id, "biller", ClaimEdits(lines=(LineEdit(1, modifiers=("52",)),)))
    assert show_claim(store, acme.claim_id, "biller").correction is None  # corrected: nothing more
    export_claims(store, tmp_path / "fix", "biller", payer="ACME1")
    ack = tmp_path / "fix.277"
    (replacement,) = _claims_of(store, [made.claim_id])
    ack.write_text(write_277ca([AckStatus(replacement, "A7", "562", "85")], PARTIES))
    apply_ack(store, ack, "biller")
    assert show_claim(store, made.claim_id, "biller").correction == "replacement"
    assert correct_claim(store, made.claim_id, "biller").frequency == "7"
    other = create_claim(store, 2, "biller")
    export_claims(store, tmp_path / "two", "biller", payer="12345")
    (rejected,) = _claims_of(store, [other.claim_id])
    ack.write_text(write_277ca([AckStatus(rejected, "A7", "562", "85")], PARTIES))
    apply_ack(store, ack, "biller")
    assert show_claim(store, other.claim_id, "biller").correction == "new_original"


def test_every_claim_move_is_audited(store: Store, tmp_path: Path) -> None:
    ids, _ = _exported(store, tmp_path)
    _post(store, tmp_path, _claims_of(store, ids), "audit.835")
    detail = show_claim(store, ids[0], "biller")
    moves = [(h["before"]["status"], h["after"]["status"]) for h in detail.history if h["before"]]
    assert moves == [("created", "scrubbed"), ("scrubbed", "exported"), ("exported", "paid")]
    actions = [h["action"] for h in detail.history]
    assert actions == ["claim:create", "claim:scrub", "claim:export", "claim:remit"]
    with store.transaction() as session:
        reads = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "read:claim")
        )
    assert reads == 1
    assert read_remittances(tmp_path / "audit.835")


def test_the_cycle_on_postgresql(tmp_path: Path, tiny_record: Path) -> None:  # noqa: F811
    """Create, export, acknowledge, post, work a denial and age the A/R on PostgreSQL (the other tests
    run on SQLite copies of one template)."""
    from backends import make_store
    from ecgdesk.workflow.claims_demo import simulate_payer

    store = make_store(tmp_path, "postgresql")
    try:
        add_people(store)
        coded_study(store, tiny_record, "P1", MEDICARE)
        coded_study(store, tiny_record, "P2", MEDICARE)
        ids = [create_claim(store, s, "biller").claim_id for s in (1, 2)]
        (exported,) = export_claims(store, tmp_path / "out", "biller")
        again = export_claims(store, tmp_path / "out2", "biller")
        assert exported.claims == ids and again == []
        files = simulate_payer(store, exported.path, tmp_path / "payer", "biller", deny=("93224",))
        assert apply_ack(store, files.ack999, "biller").claims[0]["status"] == "accepted"
        assert apply_ack(store, files.ack277, "biller").claims[0]["ack"] == "A2"
        posted = post_remittance(store, files.remit835, "biller").to_dict()
        assert posted["posted"] == 2 and {c["status"] for c in posted["claims"]} == {"denied"}
        assert post_remittance(store, files.remit835, "biller").posted == 0
        items = list_denials(store, "biller")
        worked = work_denial(store, items[0].id, "write_off", "biller")
        assert worked.claim_status == "written_off"
        assert ar_aging(store).to_dict()["total"]["total"] == "143.80"
        with store.transaction() as session:
            assert verify(session).ok
    finally:
        store.close()


def test_study_claims_show_line_adjustments_and_the_837p_to_download(store: Store, tmp_path: Path) -> None:
    from ecgdesk.errors import ConflictError, NotFoundError
    from ecgdesk.workflow.claims_views import exported_837p, study_claims

    ids, path = _exported(store, tmp_path)
    _post(store, tmp_path, _claims_of(store, ids), "deny.835", deny={"93224": Denial("CO", "50", "N115")})
    (shown,) = study_claims(store, 1, "biller")
    assert shown.summary.claim_id == ids[0] and shown.summary.status == "denied"
    (line,) = shown.lines
    assert line["adjustments"] == [
        {"kind": "denial", "group": "CO", "carc": "50", "rarc": ["N115"], "amount": line["charge"]}
    ]
    assert [h["after"]["status"] for h in shown.history[1:]] == ["scrubbed", "exported", "denied"]
    assert {h["actor"] for h in shown.history} == {"biller"}
    name, data = exported_837p(store, ids[1], "biller")
    assert name == path.name and data == path.read_bytes()
    with store.transaction() as session:
        reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "read:837p")).all()
        assert len(reads) == 1 and reads[0].actor == "biller"
    waiting = create_claim(store, 3, "biller").claim_id
    with pytest.raises(ConflictError, match="has not been exported yet"):
        exported_837p(store, waiting, "biller")
    with pytest.raises(NotFoundError, match="no study 99"):
        study_claims(store, 99, "biller")
