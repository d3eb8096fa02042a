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


def test_a_ta1_is_refused_by_name(store: Store, tmp_path: Path) -> None:
    """ECG Desk reads no TA1. A clearinghouse's TA1 rejecting our interchange is refused naming the
    segment and what it said; before, it was called "a non-X12 file"."""
    _, group = _sent(store, tmp_path, 1)
    isa = write_999(group, ["0001"], True, PARTIES).split("~")[0]
    ta1 = tmp_path / "reject.ta1"
    ta1.write_text(f"{isa}~\nTA1*{int(group):09d}*260101*0000*R*022~\nIEA*0*000000001~\n")
    with pytest.raises(InputError) as refused:
        apply_ack(store, ta1, "biller")
    assert refused.value.field == "segment 2 TA1"
    assert f"interchange {int(group):09d}, R, note code 022" in refused.value.reason


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
