"""Acknowledgements as they arrive in practice (claims-lifecycle.md section 1): a 999 interchange
answering several of our groups, sets we never sent, a 999 after the payer's 277CA, a 277CA naming a
claim number we gave but never sent. Each file is pyx12-valid where the format allows."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import copy_store, three_coded_studies
from workflow_builders import tiny_record  # noqa: F401

from backends import BACKENDS
from ecgdesk.claims.model import ProfessionalClaim
from ecgdesk.claims.payer_sim import ClaimStatus as AckStatus
from ecgdesk.claims.payer_sim import Parties, write_277ca, write_999
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.claims_models import ClaimAckRow, ClaimRow
from ecgdesk.workflow.claims import create_claim
from ecgdesk.workflow.claims_acks import apply_ack
from ecgdesk.workflow.claims_export import export_claims
from ecgdesk.workflow.claims_views import show_claim

sys.path.insert(0, str(Path(__file__).parents[1] / "claims"))
from claims_builders import pyx12_errors

PARTIES = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    return three_coded_studies(tmp_path_factory.mktemp("acks"), tiny_record)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, template: Path) -> Iterator[Store]:
    opened = copy_store(template, tmp_path / "copy", request.param)
    yield opened
    opened.close()


def _sent(store: Store, tmp_path: Path, study: int) -> tuple[str, str]:
    """A claim for ``study`` exported on its own: its number and its group control (GS06)."""
    made = create_claim(store, study, "biller")
    (sent,) = export_claims(store, tmp_path / f"out{study}", "biller")
    return made.claim_id, sent.path.read_text().split("~")[1].split("*")[6]


def _claim(store: Store, number: str) -> ProfessionalClaim:
    with store.transaction() as session:
        row = session.scalar(select(ClaimRow).where(ClaimRow.claim_number == number))
        assert row is not None
        return claim_from_dict(json.loads(row.claim_json)["claim"])


def _acks(store: Store, number: str) -> list[tuple[str, str]]:
    with store.transaction() as session:
        row = session.scalar(select(ClaimRow).where(ClaimRow.claim_number == number))
        assert row is not None
        return [
            (a.kind, a.status)
            for a in session.scalars(select(ClaimAckRow).where(ClaimAckRow.claim_id == row.id))
        ]


def _status(store: Store, number: str) -> str:
    return show_claim(store, number, "biller").summary.status


def _one_interchange(*texts: str) -> str:
    """The 999 sets of ``texts`` in the first one's interchange and group (ST02 0001, 0002, ...)."""
    sets = []
    for n, text in enumerate(texts, start=1):
        segments = text.split("~\n")
        st = next(i for i, s in enumerate(segments) if s.startswith("ST*"))
        se = next(i for i, s in enumerate(segments) if s.startswith("SE*"))
        body = segments[st : se + 1]
        body[0] = body[0].replace("*0001*", f"*{n:04d}*")
        body[-1] = body[-1].rsplit("*", 1)[0] + f"*{n:04d}"
        sets.extend(body)
    segments = texts[0].split("~\n")
    ge = next(i for i, s in enumerate(segments) if s.startswith("GE*"))
    trailer = [f"GE*{len(texts)}*" + segments[ge].split("*")[2], *segments[ge + 1 :]]
    return "~\n".join([*segments[:2], *sets, *trailer])


def test_a_999_answering_several_groups_touches_only_the_sets_we_sent(store: Store, tmp_path: Path) -> None:
    """One 999 interchange answers three groups: ours accepted, ours with only a set 0002 (never sent:
    each of our groups holds set 0001) rejected, and a group we never sent. Before, the second group's
    claim was rejected by the group's AK9 although its own set was not named; now it stays exported and
    the 999 reports the foreign set and group as unknown."""
    first, group1 = _sent(store, tmp_path, 1)
    second, group2 = _sent(store, tmp_path, 2)
    text = _one_interchange(
        write_999(group1, ["0001"], True, PARTIES),
        write_999(group2, ["0002"], False, PARTIES),
        write_999("99999", ["0001"], False, PARTIES),
    )
    assert pyx12_errors(text, tmp_path) == []
    ack = tmp_path / "three.999"
    ack.write_text(text)
    result = apply_ack(store, ack, "biller")
    assert [(c["claim_id"], c["status"]) for c in result.claims] == [(first, "accepted")]
    assert result.unknown == [f"group {group2} set 0002", "group 99999 (HC)"]
    assert (_status(store, first), _status(store, second)) == ("accepted", "exported")
    assert _acks(store, second) == []


def test_the_payers_277ca_outranks_a_999_in_either_order(store: Store, tmp_path: Path) -> None:
    """The payer's 277CA accepts a claim (A2) and the clearinghouse's 999 rejecting its set arrives
    late: the claim stays accepted (the 999 recorded, saying the 277CA stands); before, the late 999
    moved it to rejected, and the biller would have sent a duplicate. The other way round, a 999 rejects
    a set and the payer's 277CA then accepts its claim: the payer has it, so the claim is accepted
    (before it stayed rejected). A 277CA rejection is not undone by a later 999 acceptance."""
    late, group1 = _sent(store, tmp_path, 1)
    early, group2 = _sent(store, tmp_path, 2)
    a277 = tmp_path / "a.277"
    a277.write_text(
        write_277ca([AckStatus(_claim(store, late), "A2", "20", payer_claim_number="22001")], PARTIES)
    )
    apply_ack(store, a277, "biller")
    r999 = tmp_path / "r.999"
    r999.write_text(write_999(group1, ["0001"], False, PARTIES))
    (answer,) = apply_ack(store, r999, "biller").claims
    assert answer["status"] == "accepted" and "after the payer's 277CA, which stands" in answer["detail"]
    assert _status(store, late) == "accepted" and _acks(store, late) == [("277CA", "A2"), ("999", "R")]

    r999.write_text(write_999(group2, ["0001"], False, PARTIES, control=2))
    apply_ack(store, r999, "biller")
    assert _status(store, early) == "rejected"
    a277.write_text(write_277ca([AckStatus(_claim(store, early), "A2", "20")], PARTIES, control=2))
    assert [c["status"] for c in apply_ack(store, a277, "biller").claims] == ["accepted"]
    assert _status(store, early) == "accepted"

    third, group3 = _sent(store, tmp_path, 3)
    a277.write_text(write_277ca([AckStatus(_claim(store, third), "A7", "562", "85")], PARTIES, control=3))
    apply_ack(store, a277, "biller")
    a999 = tmp_path / "a.999"
    a999.write_text(write_999(group3, ["0001"], True, PARTIES, control=3))
    apply_ack(store, a999, "biller")
    assert _status(store, third) == "rejected"


def test_a_277ca_for_a_claim_never_sent_changes_nothing(store: Store, tmp_path: Path) -> None:
    """A 277CA names a claim number we gave to a claim still waiting to be exported (a payer's typo, or
    another submitter's number): before, the claim got the 277CA's rejection and the payer's claim
    number; now the number is reported as never sent and nothing is stored on the claim."""
    made = create_claim(store, 1, "biller")
    a277 = tmp_path / "a.277"
    a277.write_text(
        write_277ca([AckStatus(_claim(store, made.claim_id), "A7", "562", "85", "22009")], PARTIES)
    )
    result = apply_ack(store, a277, "biller")
    assert (result.claims, result.unknown) == ([], [f"{made.claim_id} (never sent)"])
    assert _acks(store, made.claim_id) == []
    shown = show_claim(store, made.claim_id, "biller")
    assert (shown.summary.status, shown.payer_claim_number) == ("scrubbed", None)


def _audited(store: Store, action: str) -> list[dict[str, object]]:
    from ecgdesk.store.models import AuditEntry

    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry.after_json).where(AuditEntry.action == action)).all()
    return [json.loads(r) for r in rows]


def test_a_ta1_rejecting_our_interchange_rejects_its_claims(store: Store, tmp_path: Path) -> None:
    """A clearinghouse's TA1 (interchange acknowledgement) rejects our interchange (TA104 R, note 022):
    it read none of it, so every claim of it is rejected, to be sent again. Until 2026-12-07 a TA1 was
    refused by name and the claims waited as exported. The same TA1 again changes nothing; a TA1 `A` on
    another interchange is recorded and moves nothing; a TA1 `R` after the 999 answered the interchange
    is recorded, the 999 standing; a TA1 naming an interchange we never sent is refused naming TA101, and
    stores nothing. Each TA1 is pyx12-valid."""
    from ecgdesk.claims.payer_sim import write_ta1
    from ecgdesk.workflow.claims_export import correct_claim

    first, group1 = _sent(store, tmp_path, 1)
    second, group2 = _sent(store, tmp_path, 2)
    reject = write_ta1(int(group1), "R", "022", PARTIES)
    assert pyx12_errors(reject, tmp_path) == []
    ta1 = tmp_path / "reject.ta1"
    ta1.write_text(reject)
    result = apply_ack(store, ta1, "biller")
    expected = f"TA1 R: interchange {int(group1):09d} rejected (note 022: invalid control structure)"
    assert (result.kind, result.unknown) == ("TA1", [])
    assert result.claims == [{"claim_id": first, "status": "rejected", "ack": "R", "detail": expected}]
    assert _status(store, first) == "rejected" and _acks(store, first) == [("TA1", "R")]
    assert [m["detail"] for m in _audited(store, "claim:ackta1")] == [expected]
    assert apply_ack(store, ta1, "biller").duplicate
    assert correct_claim(store, first, "biller").frequency == "1"  # sent again as a new original

    ta1.write_text(write_ta1(int(group2), "A", "000", PARTIES, control=2))
    (answer,) = apply_ack(store, ta1, "biller").claims
    assert (answer["status"], answer["ack"]) == ("exported", "A")
    assert _acks(store, second) == [("TA1", "A")]
    a999 = tmp_path / "a.999"
    a999.write_text(write_999(group2, ["0001"], True, PARTIES))
    apply_ack(store, a999, "biller")
    ta1.write_text(write_ta1(int(group2), "R", "024", PARTIES, control=3))
    (late,) = apply_ack(store, ta1, "biller").claims
    assert late["status"] == "accepted" and late["detail"].endswith("(after the 999, which stands)")

    ta1.write_text(write_ta1(999999, "R", "022", PARTIES, control=4))
    with pytest.raises(InputError) as refused:
        apply_ack(store, ta1, "biller")
    assert refused.value.field == "segment 2 TA101"
    assert "interchange 000999999 is not one ECG Desk sent" in refused.value.reason
    assert _acks(store, second) == [("TA1", "A"), ("999", "A"), ("TA1", "R")]
    ta1.write_text(write_ta1(int(group2), "R", "022", PARTIES, control=5).replace("*R*022", "*X*022"))
    with pytest.raises(InputError, match="TA104"):
        apply_ack(store, ta1, "biller")
    # a TA1 interchange and then a 999 one in one file: refused naming the group, not half applied
    ta1.write_text(write_ta1(int(group2), "A", "000", PARTIES, control=6) + a999.read_text())
    with pytest.raises(InputError, match="'segment 5 GS': a file starting with a TA1 interchange"):
        apply_ack(store, ta1, "biller")


def test_a_ta1_before_the_999_in_one_interchange_is_applied_with_it(store: Store, tmp_path: Path) -> None:
    """A clearinghouse answers with one interchange holding a TA1 (accepted with errors, note 024) and its
    999 accepting the set: both are recorded on the claim, which is accepted. Until 2026-12-07 such a
    file was refused: the checker wanted a GS right after the ISA."""
    made, group = _sent(store, tmp_path, 1)
    segments = write_999(group, ["0001"], True, PARTIES).split("~\n")
    text = "~\n".join([segments[0], f"TA1*{int(group):09d}*260101*0000*E*024", *segments[1:]])
    assert pyx12_errors(text, tmp_path) == []
    both = tmp_path / "both.999"
    both.write_text(text)
    result = apply_ack(store, both, "biller")
    assert [(c["ack"], c["status"]) for c in result.claims] == [("E", "exported"), ("A", "accepted")]
    assert _acks(store, made) == [("TA1", "E"), ("999", "A")] and _status(store, made) == "accepted"


def test_a_277ca_not_found_rejects_the_claim_to_be_sent_again(store: Store, tmp_path: Path) -> None:
    """The payer's 277CA says it cannot find the claim (STC01 A4): it has no record of it, so it was never
    adjudicated and is sent again, like a rejected one (claims-lifecycle.md section 1). Until 2026-12-07
    the claim stayed exported (or accepted), waiting for an 835 that would never come."""
    made, _ = _sent(store, tmp_path, 1)
    a277 = tmp_path / "a4.277"
    a277.write_text(write_277ca([AckStatus(_claim(store, made), "A4", "35")], PARTIES))
    assert pyx12_errors(a277.read_text(), tmp_path) == []
    (answer,) = apply_ack(store, a277, "biller").claims
    assert (answer["status"], answer["ack"]) == ("rejected", "A4")
    assert "not found: the payer has no record of the claim" in answer["detail"]
    assert _status(store, made) == "rejected" and _acks(store, made) == [("277CA", "A4")]


def test_the_same_999_in_a_new_envelope_is_recorded_once(store: Store, tmp_path: Path) -> None:
    """A clearinghouse resends its 999 with a new ISA13/GS06 (so not the same file): before, the claim got
    a second acknowledgement row and a second `claim:ack999` audit row; now the repeat is named as
    already recorded and stores nothing."""
    from ecgdesk.store.models import AuditEntry

    made, group = _sent(store, tmp_path, 1)
    for control in (1, 2):
        ack = tmp_path / f"a{control}.999"
        ack.write_text(write_999(group, ["0001"], True, PARTIES, control=control))
        (answer,) = apply_ack(store, ack, "biller").claims
    assert answer["detail"] == "IK5 A (already recorded from an earlier file)"
    assert _acks(store, made) == [("999", "A")] and _status(store, made) == "accepted"
    with store.transaction() as session:
        moves = session.scalars(select(AuditEntry.action).where(AuditEntry.action == "claim:ack999")).all()
    assert len(moves) == 1


@pytest.mark.parametrize("answer", ["R", "E"])
def test_a_999_on_a_set_of_two_claims_says_which_one_is_at_fault(
    store: Store, tmp_path: Path, answer: str
) -> None:
    """Two Medicare claims go in one 837 (one transaction set). The 999 answers the set as a whole: IK5 R
    (AK9 R) rejects both, IK5 E (AK9 E) accepts both with errors; its IK3/IK4 name a segment of the second
    claim (IK302, its position in the set). Only that claim needs correcting: the other is told to go again
    as it is (rejected) or that the errors are not its own (accepted). Until 2026-12-08 both claims were
    given every error, as if each had to be corrected. The 999 is pyx12-valid."""
    first = create_claim(store, 1, "biller").claim_id
    second = create_claim(store, 2, "biller").claim_id
    (sent,) = export_claims(store, tmp_path / "out", "biller")
    segments = sent.path.read_text().split("~")
    st = next(i for i, s in enumerate(segments) if s.strip().startswith("ST*"))
    clm = next(i for i, s in enumerate(segments) if s.strip().startswith(f"CLM*{second}*"))
    sv1 = next(i for i in range(clm, len(segments)) if segments[i].strip().startswith("SV1*"))
    group = segments[1].split("*")[6]
    text = write_999(group, ["0001"], False, PARTIES, error=("SV1", sv1 - st + 1, "8"))
    se = next(s for s in text.split("~") if s.strip().startswith("SE*")).strip()
    count = int(se.split("*")[1]) + 1  # the IK4 added
    text = text.replace("IK5*R*5~", "IK4*2**7*XX~\nIK5*R*5~").replace(se, f"SE*{count}*0001")
    if answer == "E":
        text = text.replace("IK5*R*5~", "IK5*E~").replace("AK9*R*1*1*0~", "AK9*E*1*1*1~")
    assert pyx12_errors(text, tmp_path) == []
    (tmp_path / "set.999").write_text(text)
    result = {c["claim_id"]: c for c in apply_ack(store, tmp_path / "set.999", "biller").claims}
    moved = "accepted" if answer == "E" else "rejected"
    assert (_status(store, first), _status(store, second)) == (moved, moved)
    own = result[second]["detail"]
    assert f"SV1 (segment {sv1 - st + 1}): segment has data element errors" in own
    assert "element 2: invalid code value 'XX'" in own
    other = result[first]["detail"]
    assert "SV1" not in other and f"in {second}" in other
    if answer == "R":
        assert "correct it" in own and "send it again as it is" in other
    else:
        assert "accepted with errors in this claim" in own and "none in this claim" in other
    shown = show_claim(store, first, "biller").to_dict()
    assert other in json.dumps(shown)  # the biller sees it with the claim (CLI, API, billing page)
