"""Batch signing (review-ui.md, "batch signing exists"): one password entry for several reviewed studies,
each signed exactly as the single sign does; a study that fails a check is refused with the reason and
left unsigned, the others signed; a wrong password signs nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from ecgdesk.errors import AuthenticationError, InputError, PermissionDeniedError
from ecgdesk.store import Store, verify
from ecgdesk.store.models import AuditEntry, Signature
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.signing_batch import MAX_BATCH, sign_batch, signing_queue
from ecgdesk.workflow.studies import create_study, import_recording, set_technician_comments
from ecgdesk.workflow.users import add_user
from ecgdesk.workflow.views import show_study

pytest.importorskip("ecgdesk.analysis.pipeline")

from workflow_builders import (
    PHYSICIAN_NPI,
    PIN,
    SECOND_NPI,
    assert_pdf_carries_signatures,
    fake_analyzer,
    request,
)


def _reported(store: Store, record: Path, n: int) -> list[int]:
    add_user(store, "dr.a", "physician", PIN, "Ana A", npi=PHYSICIAN_NPI, credentials="MD")
    add_user(store, "dr.b", "physician", "1357-1357", "Ben B, MD", npi=SECOND_NPI)
    add_user(store, "tech", "technician", "9999-9999", "Terry Tech")
    ids = []
    for i in range(n):
        study_id = create_study(store, request(patient_id=f"P{i}", name=f"Doe, Pat{i}"), "tech")
        import_recording(store, study_id, record, "tech")
        analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
        report_study(store, study_id, "tech")
        ids.append(study_id)
    return ids


def _sign_rows(store: Store) -> dict[int, dict[str, object]]:
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "report:sign"))
        return {int(r.entity_id): json.loads(r.after_json) for r in rows}


def test_batch_signs_the_ready_ones_and_says_why_not_the_others(store: Store, tiny_record: Path) -> None:
    mine, mine_too, others, changed, bare, alone = _reported(store, tiny_record, 6)
    interpret(store, mine, "dr.a", "Sinus rhythm with rare PVCs.")
    interpret(store, mine_too, "dr.a", "Sinus rhythm.")
    interpret(store, others, "dr.b", "Sinus rhythm. Read by B.")
    interpret(store, changed, "dr.a", "Sinus rhythm.")
    set_technician_comments(store, changed, "Patch off for 2 h on day 3.", "tech")  # after the review
    interpret(store, bare, "dr.a")  # reviewed without an interpretation
    interpret(store, alone, "dr.b", "Sinus rhythm. Signed alone.")

    queue = {q.study_id: q for q in signing_queue(store, "dr.a", "dr.a")}
    assert sorted(queue) == sorted([mine, mine_too, changed, bare])  # dr.b's studies are not on it
    assert queue[mine].ready and queue[mine_too].ready and queue[mine].patient_name == "Doe, Pat0"
    assert not queue[changed].ready and "changed since your review" in (queue[changed].reason or "")
    assert not queue[bare].ready and "no interpretation" in (queue[bare].reason or "")

    # A wrong password signs nothing (and is one failed attempt, audited as the single sign's).
    with pytest.raises(AuthenticationError):
        sign_batch(store, [mine, mine_too], "dr.a", "0000")
    with store.transaction() as session:
        assert session.scalar(select(Signature)) is None
    assert show_study(store, mine).status == "reported"

    done = sign_batch(store, [mine, others, mine_too, changed, bare, 999, mine], "dr.a", PIN)
    assert [s.study_id for s in done.signed] == [mine, mine_too]
    reasons = {r.study_id: r.reason for r in done.refused}
    assert list(reasons) == [others, changed, bare, 999]
    assert "not on your worklist" in reasons[others] and "dr.b" in reasons[others]
    assert "changed since your review" in reasons[changed]
    assert "no interpretation" in reasons[bare]
    assert "no study 999" in reasons[999]
    for study_id in (others, changed, bare):
        assert show_study(store, study_id).status == "reported"
    for info in done.signed:
        view = show_study(store, info.study_id)
        assert view.status == "signed" and view.signature_state == "valid"
        assert [(s.meaning, s.printed_name) for s in view.signatures] == [("Interpreted by", "Ana A")]
        assert_pdf_carries_signatures(info.pdf_path, [("Interpreted by", "Ana A, MD", info.version,
                                                       info.signed_at)])
    # The same audit row per study as a single signature (compare with one signed alone).
    single = sign(store, alone, "dr.b", "1357-1357")
    rows = _sign_rows(store)
    assert sorted(rows) == sorted([mine, mine_too, alone])
    assert set(rows[mine]) == set(rows[alone]) and rows[mine]["meaning"] == rows[alone]["meaning"]
    assert rows[mine]["printed_name"] == "Ana A" and rows[alone]["pdf_path"] == str(
        single.pdf_path.relative_to(store.home))
    with store.transaction() as session:
        batch = session.scalars(select(AuditEntry).where(AuditEntry.action == "report:sign-batch")).all()
        assert len(batch) == 1 and batch[0].actor == "dr.a"
        detail = json.loads(batch[0].after_json)
        assert detail["signed"] == [mine, mine_too] and detail["requested"][-1] == 999
        assert set(detail["refused"]) == {str(others), str(changed), str(bare), "999"}
        assert verify(session).ok
    assert [q.study_id for q in signing_queue(store, "dr.a", "dr.a")] == [changed, bare]


def test_batch_input_and_role_are_checked_first(store: Store, tiny_record: Path) -> None:
    (study_id,) = _reported(store, tiny_record, 1)
    interpret(store, study_id, "dr.a", "Sinus rhythm.")
    with pytest.raises(InputError, match="at least one"):
        sign_batch(store, [], "dr.a", PIN)
    with pytest.raises(InputError, match=f"at most {MAX_BATCH}"):
        sign_batch(store, list(range(1, MAX_BATCH + 2)), "dr.a", PIN)
    with pytest.raises(PermissionDeniedError, match="is a technician"):
        sign_batch(store, [study_id], "tech", "9999-9999")
    assert show_study(store, study_id).status == "reported"
