"""835 shapes real payers send (probed 2026-12-08): a denial with its remark codes at claim level (MOA), a
claim paid under a corrected insured (NM1*74) and provider-level adjustments (PLB) naming a claim. Every 835
is written by the simulated payer's writer, edited where it writes no such segment, and passes pyx12
(005010X221A1) before it is posted."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("ecgdesk.reports.scanning")

from remit_builders import MEDICARE_PARTIES, D, _export, _paid, remit_store, remit_template
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.payer_sim import write_835
from ecgdesk.claims.remit import Adjustment
from ecgdesk.store import Store
from ecgdesk.workflow.claims_denials import list_denials
from ecgdesk.workflow.claims_inbound import post_remittance
from ecgdesk.workflow.claims_views import show_claim

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return remit_template(tmp_path_factory, tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    yield from remit_store(request.param, tmp_path, template)


def _with(text: str, before: str, *segments: str) -> str:
    """``text`` with ``segments`` put before its first ``before`` segment, SE01 counting them."""
    text = text.replace(f"{before}*", "".join(f"{s}~\n" for s in segments) + f"{before}*", 1)
    return re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + len(segments)}*", text)


def _post_text(store: Store, folder: Path, text: str, name: str) -> dict:
    assert pyx12_errors(text, folder) == []
    path = folder / f"{name}.835"
    path.write_text(text)
    return post_remittance(store, path, "biller").to_dict()


def test_a_denial_with_claim_level_remarks_keeps_them_on_its_item(store: Store, tmp_path: Path) -> None:
    """Medicare denies the claim (CLP02 4, nothing paid) with CO-50 on its line and the remark codes at
    claim level (MOA03-04 MA130, N115: the LCD the decision rests on, which the appeal answers). Until
    2026-12-08 the claim's remarks were kept only for claim-level CAS: the line's denial item and the
    posting answer had none. Now each line adjustment carries them after its own (LQ) remarks."""
    (claim,) = _export(store, tmp_path / "out", [1], "12345")
    denied = _paid(claim, "0", Adjustment("CO", "50", claim.total_charge), status="4", remarks=("M127",))
    text = write_835([denied], MEDICARE_PARTIES, "EFT-MOA", date.today())
    posted = _post_text(store, tmp_path, _with(text, "DTM*232", "MOA***MA130*N115*M127"), "moa")
    (answer,) = posted["claims"]
    assert (answer["status"], answer["adjustments"][0]["rarc"]) == ("denied", ["M127", "MA130", "N115"])
    (item,) = list_denials(store, "biller")
    assert (item.category, item.carc, item.rarc) == ("necessity", "50", ["M127", "MA130", "N115"])
    line = show_claim(store, claim.claim_id, "biller").to_dict()["lines"][0]
    assert "N115" in str(line)


def test_a_claim_paid_under_a_corrected_insured_says_so(store: Store, tmp_path: Path) -> None:
    """The payer pays the claim under the insured's name and member id as it corrected them (2100 NM1*74,
    NM108 C): our coverage is wrong, and the next claim would go out with it again. Until 2026-12-08 the
    segment was read past and dropped: the posting said nothing of it. Now the posting answer, the claim
    payment (migration 0031) and the claim's remittances (API and billing page) name the correction."""
    from ecgdesk.service.web import ENV
    from ecgdesk.workflow.claims_schemas import ClaimDetailOut

    (claim,) = _export(store, tmp_path / "out", [1], "12345")
    paid = _paid(claim, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
    text = write_835([paid], MEDICARE_PARTIES, "EFT-74", date.today())
    corrected = _with(text, "DTM*232", "NM1*74*1*DOE*JANET****C*1EG4TE5MK99")
    (answer,) = _post_text(store, tmp_path, corrected, "nm174")["claims"]
    said = "DOE, JANET; member id 1EG4TE5MK99"
    assert (answer["status"], answer["corrected_insured"]) == ("paid", said)
    shown = show_claim(store, claim.claim_id, "biller")
    (remittance,) = ClaimDetailOut.model_validate(shown.to_dict()).remittances
    assert remittance.corrected_insured == said
    page = ENV.get_template("_claims_panel.html.j2").render(claims=[shown], clp_names={}, soon="", studies={})
    assert f"as the payer corrected it: {said}" in page


def test_provider_adjustments_naming_a_claim_show_on_it(store: Store, tmp_path: Path) -> None:
    """One 835 pays a claim and carries three PLB adjustments: L6 interest (-1.50, paid to the practice)
    naming that claim, a forwarding balance FB (10.00) naming none, and a WO recoupment (5.00) naming another
    claim that has no overpayment to recover. The file balances (BPR02 = CLP04 - PLB) and posts; the money of
    none of them is booked on a claim (a WO books only against an open overpayment item), so until
    2026-12-08 they showed nowhere but in the posting's answer. Now each claim's page (and API) lists the
    PLBs naming it, by our claim number or its CLP07; the claims' balances are unchanged."""
    from ecgdesk.claims.remit import ProviderAdjustment
    from ecgdesk.service.web import ENV
    from ecgdesk.workflow.claims_schemas import ClaimDetailOut

    first, second = _export(store, tmp_path / "out", [1, 2], "12345")
    paid = _paid(first, "57.52", Adjustment("CO", "45", D("71.90")), Adjustment("PR", "2", D("14.38")))
    day = date(2026, 12, 31)
    plbs = [
        ProviderAdjustment("1234567893", day, "L6", paid.payer_claim_number, D("-1.50"), 0),
        ProviderAdjustment("1234567893", day, "FB", "", D("10.00"), 0),
        ProviderAdjustment("1234567893", day, "WO", second.claim_id, D("5.00"), 0),
    ]
    text = write_835([paid], MEDICARE_PARTIES, "EFT-PLB", date.today(), provider_adjustments=plbs)
    posted = _post_text(store, tmp_path, text, "plb")
    assert [(p["reason"], p["amount"]) for p in posted["provider_adjustments"]] == [
        ("L6", "-1.50"),
        ("FB", "10.00"),
        ("WO", "5.00"),
    ]
    shown = show_claim(store, first.claim_id, "biller")
    assert (shown.balance["paid"], shown.balance["insurance_balance"]) == ("57.52", "0.00")
    named = ClaimDetailOut.model_validate(shown.to_dict()).provider_adjustments
    assert [(p["reason"], p["reference"], p["amount"], p["trace_number"]) for p in named] == [
        ("L6", paid.payer_claim_number, "-1.50", "EFT-PLB")
    ]
    other = show_claim(store, second.claim_id, "biller")
    assert [(p["reason"], p["amount"]) for p in other.provider_adjustments] == [("WO", "5.00")]
    assert other.balance["insurance_balance"] == "143.80"
    page = ENV.get_template("_claims_panel.html.j2").render(claims=[other], clp_names={}, soon="", studies={})
    assert 'data-testid="claim-plb"' in page and "<td>WO</td>" in page
