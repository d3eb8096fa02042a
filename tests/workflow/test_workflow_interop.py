"""Hospital interfaces end to end: results queued at signing and delivered (folder, MLLP, FHIR server),
retried and failed; orders in over the same workflow (created, duplicated, changed, cancelled, held)."""

from __future__ import annotations

import base64
import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import hl7
import pydicom
import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from ecgdesk.errors import InputError
from ecgdesk.interop import hl7v2, mllp
from ecgdesk.store import Store, verify
from ecgdesk.store.models import AuditEntry, Order, ReportVersion, Study
from ecgdesk.workflow import interop_results
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.interop_orders import list_inbound, receive_order
from ecgdesk.workflow.interop_results import (
    add_target,
    deliver_due,
    export_study,
    list_deliveries,
    queue_results,
)
from ecgdesk.workflow.reporting import add_addendum, interpret, report_study, sign
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user

pytest.importorskip("ecgdesk.reports.scanning")

from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, PIN, fake_analyzer, request

from backends import make_store

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import contained_service_request

ORM_NEW = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||{patient}^^^HOSP^MR||{name}||19560314|F\r"
    "ORC|{ctrl}|{placer}||||||||||{npi}^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93245^Extended ECG monitoring^C4\r"
    "DG1|1||{icd}^Palpitations^I10\r"
)


def orm(
    control: str,
    ctrl: str = "NW",
    placer: str = "PL-1",
    patient: str = "MRN7",
    name: str = "Roe^Rita",
    npi: str = ORDERING_NPI,
    icd: str = "R00.2",
) -> str:
    return ORM_NEW.format(
        control=control, ctrl=ctrl, placer=placer, patient=patient, name=name, npi=npi, icd=icd
    )


def _signed(store: Store, record: Path) -> int:
    add_user(store, "dr.a", "physician", PIN, "Lee, Ana", npi=PHYSICIAN_NPI, credentials="MD")
    add_user(store, "tech", "technician", "9999-9999", "Terry Tech")
    study_id = create_study(store, request(placer_order_number="PL-77"), "tech")
    import_recording(store, study_id, record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.a", "Sinus rhythm. Rare PVCs | no pauses.")
    sign(store, study_id, "dr.a", PIN)
    return study_id


def _audit_count(store: Store, action: str) -> int:
    with store.transaction() as session:
        return int(
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
            or 0
        )


def _signed_pdf(store: Store, study_id: int) -> bytes:
    with store.transaction() as session:
        version = session.scalar(
            select(ReportVersion)
            .where(ReportVersion.study_id == study_id)
            .order_by(ReportVersion.version.desc())
        )
        assert version is not None
        return store.resolve(version.pdf_path).read_bytes()


def test_signing_queues_and_delivery_writes_an_oru_with_the_signed_pdf(
    store: Store, tiny_record: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "interface-in"
    add_target(store, "chart", "folder", str(inbox), ["hl7", "fhir", "dicom"], "admin")
    study_id = _signed(store, tiny_record)
    queued = list_deliveries(store, study_id)
    assert sorted(d.format for d in queued) == ["dicom", "fhir", "hl7"] and {d.status for d in queued} == {
        "pending"
    }
    with store.transaction() as session:  # as if its order had come from CLINIC^WEST (MSH-3^MSH-4)
        session.scalars(select(Order)).one().sender = "CLINIC^WEST"
    outcomes = deliver_due(store, "worker")
    assert {o.status for o in outcomes} == {"sent"}
    pdf = _signed_pdf(store, study_id)
    message = hl7.parse(next(inbox.glob("*.hl7")).read_text().replace("\n", "\r"))
    ed = next(s for s in message if str(s[0]) == "OBX" and str(s[2]) == "ED")
    assert base64.b64decode(str(ed[5][0][4])) == pdf
    assert str(message.segment("OBR")[2]) == "PL-77" and str(message.segment("OBR")[25]) == "F"
    # addressed to the order's sender (MSH-5/MSH-6); it went out addressed to no one
    assert (str(message.segment("MSH")[5]), str(message.segment("MSH")[6])) == ("CLINIC", "WEST")
    numbers = {str(s[3][0][1]) for s in message if str(s[0]) == "OBX" and str(s[2]) == "NM"}
    assert "Mean heart rate" in numbers and "Ventricular ectopic beats" in numbers
    bundle = Bundle.model_validate(json.loads(next(inbox.glob("*.json")).read_text()))
    report = next(e.resource for e in bundle.entry if e.resource.__resource_type__ == "DiagnosticReport")
    assert report.presentedForm[0].data == pdf and report.status == "final"
    ds = pydicom.dcmread(next(inbox.glob("*.dcm")))
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == pdf
    assert deliver_due(store, "worker") == []  # nothing sent twice
    assert _audit_count(store, "interop:sent") == 3
    with store.transaction() as session:
        assert verify(session).ok


def test_a_result_goes_to_the_targets_of_its_orders_sender_only(tmp_path: Path) -> None:
    """A site with two EHRs: the signed result of an order from one went to every enabled target, so the
    other EHR received a patient and a result it never ordered. A target naming senders (MSH-3^MSH-4) now
    takes the results of their orders only; one naming none (an archive, a PACS) takes every result, and a
    study ordered here (no sender) goes where it went. What signing queues (``queue_results``, called in the
    signing transaction) is checked directly, for speed; routing is Python on stored columns: SQLite only."""
    store = make_store(tmp_path, "sqlite")
    add_target(store, "ehr-a", "folder", str(tmp_path / "a"), ["hl7"], "admin", senders=["EHR^HOSP"])
    add_target(store, "ehr-b", "folder", str(tmp_path / "b"), ["hl7"], "admin", senders=["CLINIC^WEST"])
    add_target(store, "archive", "folder", str(tmp_path / "c"), ["hl7"], "admin")
    studies = [
        receive_order(store, orm("W1", placer="PL-W1").replace("|EHR|HOSP|", "|CLINIC|WEST|", 1), "p", "i"),
        receive_order(store, orm("W2", placer="PL-W2"), "p", "i"),
    ]
    ids = [outcome.study_id for outcome in studies] + [create_study(store, request(patient_id="P9"), "tech")]
    routed = []
    with store.transaction() as session:
        for study_id in ids:
            study = session.get(Study, study_id)
            assert study is not None
            # the signed version itself plays no part in where it goes (an unsaved one: no PDF to render)
            queue_results(session, study, ReportVersion(version=1), "dr.a", corrected=False)
        senders = [o.sender for o in session.scalars(select(Order).order_by(Order.id))]
        audit = [json.loads(a.after_json) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "interop:queue").order_by(AuditEntry.id))]
    for study_id in ids:
        routed.append(sorted(d.target for d in list_deliveries(store, study_id)))
    assert senders == ["CLINIC^WEST", "EHR^HOSP", None]
    assert routed == [["archive", "ehr-b"], ["archive", "ehr-a"], ["archive", "ehr-a", "ehr-b"]]
    assert [(a["sender"], a["withheld_from"]) for a in audit[:2]] == [
        ("CLINIC^WEST", ["ehr-a"]), ("EHR^HOSP", ["ehr-b"])]
    assert "withheld_from" not in audit[2] and audit[2]["items"] == 3
    store.close()


def test_addendum_sends_a_corrected_result(store: Store, tiny_record: Path, tmp_path: Path) -> None:
    add_target(store, "chart", "folder", str(tmp_path / "in"), ["hl7"], "admin")
    study_id = _signed(store, tiny_record)
    deliver_due(store, "worker")
    add_addendum(store, study_id, "dr.a", PIN, "Correction: one 2.1 s pause at night.")
    outcomes = deliver_due(store, "worker")
    assert len(outcomes) == 1 and outcomes[0].corrected
    texts = [p.read_text() for p in sorted((tmp_path / "in").glob("*.hl7"), key=lambda p: p.stat().st_mtime)]
    corrected = hl7.parse(texts[-1].replace("\n", "\r"))
    assert str(corrected.segment("OBR")[25]) == "C"
    assert "2.1 s pause" in hl7v2.unescape(str(next(s for s in corrected if str(s[2]) == "TX")[5]))
    # amended again: the third result carried the second addendum alone (until 2026-12-07), unlike its PDF;
    # and an interpretation over 199 characters could not be built (hl7apy's ST limit): it raised out of the
    # deliverer, which stopped at it on every run
    long = "Second correction: no AF. " + "Sinus rhythm throughout with isolated ventricular ectopy. " * 5
    add_addendum(store, study_id, "dr.a", PIN, long)
    assert [(o.status, o.corrected) for o in deliver_due(store, "worker")] == [("sent", True)]
    texts = [p.read_text() for p in sorted((tmp_path / "in").glob("*.hl7"), key=lambda p: p.stat().st_mtime)]
    again = hl7.parse(texts[-1].replace("\n", "\r"))
    text = hl7v2.unescape(str(next(s for s in again if str(s[2]) == "TX")[5]))
    assert "2.1 s pause" in text and "no AF" in text and text.index("2.1 s") < text.index("no AF")
    assert text.endswith(long.strip()) and len(text) > 300
    assert str(again.segment("OBR")[25]) == "C" and len(again.segments("NTE")) == 3 and len(texts) == 3


def test_a_message_that_cannot_be_built_is_a_failed_attempt_and_the_others_still_go(
    store: Store, tiny_record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A builder's own exception (hl7apy's MaxLengthReached for a long interpretation, before 2026-12-07)
    raised out of the deliverer: the item stayed leased, and every later run stopped at it again, so the
    items queued after it were never sent. It is a failed attempt now, audited and retried."""
    add_target(store, "chart", "folder", str(tmp_path / "in"), ["hl7", "fhir"], "admin")
    _signed(store, tiny_record)
    real = interop_results.render

    def render(store: Store, session: object, result: object, fmt: object, *args: object) -> object:
        if fmt == "hl7":
            raise RuntimeError("builder bug")
        return real(store, session, result, fmt, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(interop_results, "render", render)
    outcomes = deliver_due(store, "worker")
    assert [(o.format, o.status) for o in outcomes] == [("hl7", "pending"), ("fhir", "sent")]
    assert "could not be built (RuntimeError: builder bug)" in (outcomes[0].last_error or "")
    assert _audit_count(store, "interop:retry") == 1


class _Engine:
    """An interface engine on loopback: acknowledges AA (or AE) and keeps what it received; ``answers``: the
    MSA-2 it puts in every ACK instead of the message's own control id (a stale or mixed-up ACK)."""

    def __init__(self, code: str = "AA", port: int = 0, answers: str | None = None) -> None:
        self.received: list[str] = []
        self.server = mllp.MllpServer("127.0.0.1", port, self._handle)
        self.code, self.answers = code, answers

    def _handle(self, text: str, peer: str) -> str:
        self.received.append(text)
        control = self.answers or hl7v2.message_header(text, peer)[1]
        return hl7v2.build_ack(hl7v2.AckResult(self.code, control, "ok" if self.code == "AA" else "no"))


@pytest.fixture
def engine() -> Iterator[_Engine]:
    engine = _Engine()
    engine.server.start_in_thread()
    yield engine
    engine.server.shutdown()
    engine.server.server_close()


def test_mllp_delivery_is_acknowledged(store: Store, tiny_record: Path, engine: _Engine) -> None:
    add_target(store, "engine", "mllp", f"127.0.0.1:{engine.server.port}", ["hl7"], "admin")
    study_id = _signed(store, tiny_record)
    outcomes = deliver_due(store, "worker")
    assert [o.status for o in outcomes] == ["sent"] and len(engine.received) == 1
    assert hl7v2.unescape(str(hl7.parse(engine.received[0]).segment("PID")[3][0][0])) == "P1"
    assert list_deliveries(store, study_id)[0].status == "sent"


def test_unreachable_peer_is_retried_then_failed_then_retried_on_request(
    store: Store, tiny_record: Path, engine: _Engine
) -> None:
    port = engine.server.port
    engine.server.shutdown()
    engine.server.server_close()
    add_target(store, "engine", "mllp", f"127.0.0.1:{port}", ["hl7"], "admin", max_attempts=2)
    study_id = _signed(store, tiny_record)
    first = deliver_due(store, "worker")
    assert first[0].status == "pending" and first[0].attempts == 1 and first[0].last_error
    assert deliver_due(store, "worker") == []  # not due yet: the delay grows
    with store.transaction() as session:  # let time pass
        from ecgdesk.store.interop_models import OutboxItem

        for item in session.scalars(select(OutboxItem)):
            item.next_attempt_at = item.created_at
    second = deliver_due(store, "worker")
    assert second[0].status == "failed" and second[0].attempts == 2
    assert _audit_count(store, "interop:failed") == 1
    restarted = _Engine(port=port)
    restarted.server.start_in_thread()
    try:
        again = deliver_due(store, "worker", retry_failed=True)
        assert again[0].status == "sent" and len(restarted.received) == 1
    finally:
        restarted.server.shutdown()
        restarted.server.server_close()
    assert list_deliveries(store, study_id)[0].status == "sent"


@pytest.mark.parametrize(("code", "answers", "said"), [("AE", None, "AE"), ("AA", "OTHER-MESSAGE", "MSA-2")])
def test_peer_answering_ae_is_not_counted_as_sent(
    store: Store, tiny_record: Path, code: str, answers: str | None, said: str
) -> None:
    """An AE, or an AA that acknowledges another message's control id (until 2026-12-07 taken as this
    one's delivery: a peer answering with a stale ACK), leaves the result to be sent again."""
    engine = _Engine(code, answers=answers)
    engine.server.start_in_thread()
    try:
        add_target(store, "engine", "mllp", f"127.0.0.1:{engine.server.port}", ["hl7"], "admin")
        _signed(store, tiny_record)
        outcome = deliver_due(store, "worker")[0]
        assert outcome.status == "pending" and said in (outcome.last_error or ""), outcome.last_error
        assert answers is None or "OTHER-MESSAGE" in (outcome.last_error or "")
    finally:
        engine.server.shutdown()
        engine.server.server_close()


class _FhirServer(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status = 201

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        document = json.loads(body)
        Bundle.model_validate(document)  # the server validates like a real one would
        type(self).received.append(document)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/fhir+json")
        self.end_headers()
        self.wfile.write(b'{"resourceType": "Bundle", "type": "transaction-response"}')

    def log_message(self, *args: object) -> None:
        pass


def test_fhir_server_receives_a_valid_transaction_bundle(store: Store, tiny_record: Path) -> None:
    _FhirServer.received, _FhirServer.status = [], 201
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FhirServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        add_target(
            store, "fhir", "fhir", f"http://127.0.0.1:{server.server_address[1]}/fhir", ["fhir"], "admin"
        )
        _signed(store, tiny_record)
        assert [o.status for o in deliver_due(store, "worker")] == ["sent"]
        assert _FhirServer.received[0]["type"] == "transaction"
        _FhirServer.status = 500
        add_addendum(store, 1, "dr.a", PIN, "Addendum for the failing server.")
        outcome = deliver_due(store, "worker")[0]
        assert outcome.status == "pending" and "HTTP 500" in (outcome.last_error or "")
    finally:
        server.shutdown()
        server.server_close()


def test_export_writes_each_format_and_audits(store: Store, tiny_record: Path, tmp_path: Path) -> None:
    study_id = _signed(store, tiny_record)
    out = tmp_path / "exports"
    out.mkdir()
    paths = [p for fmt in ("hl7", "fhir", "dicom") for p in export_study(store, study_id, fmt, out, "tech")]
    assert [p.suffix for p in paths] == [".hl7", ".json", ".dcm"]
    assert _audit_count(store, "interop:export") == 3
    with pytest.raises(InputError, match="as"):
        export_study(store, study_id, "pdf", out, "tech")


def test_export_of_an_unsigned_study_is_refused(store: Store) -> None:
    study_id = create_study(store, request(), "tech")
    with pytest.raises(InputError, match="no signed report"):
        export_study(store, study_id, "hl7", Path("x.hl7"), "tech")


def test_bad_targets_are_refused(store: Store) -> None:
    for kind, address, formats, field in [
        ("mllp", "nohost", ["hl7"], "address"),
        ("fhir", "ftp://x", ["fhir"], "address"),
        ("carrier-pigeon", "x", ["hl7"], "kind"),
        ("folder", "/tmp/x", ["pdf"], "formats"),
    ]:
        with pytest.raises(InputError) as caught:
            add_target(store, "t", kind, address, formats, "admin")
        assert caught.value.field == field


def _studies(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Study)) or 0)


def test_orders_are_created_once_changed_and_cancelled(store: Store) -> None:
    first = receive_order(store, orm("C1"), "test", "interface")
    assert first.ack.code == "AA" and first.study_id is not None
    again = receive_order(store, orm("C1"), "test", "interface")
    assert again.status == "duplicate" and again.ack.code == "AA" and _studies(store) == 1
    change = receive_order(store, orm("C2", ctrl="XO", icd="I48.0"), "test", "interface")
    assert change.ack.code == "AA" and change.study_id == first.study_id
    with store.transaction() as session:
        order = session.scalar(select(Order).where(Order.placer_order_number == "PL-1"))
        assert order is not None and json.loads(order.indications_json) == ["I48.0"]
    new_again = receive_order(store, orm("C3"), "test", "interface")  # the order before its change
    assert new_again.ack.code == "AE" and "exists already" in new_again.ack.text
    assert str(hl7.parse(new_again.ack_text).segment("ERR")[2]) == "DG1^1^3"
    cancel = receive_order(store, orm("C4", ctrl="CA"), "test", "interface")
    assert cancel.ack.code == "AA"
    assert receive_order(store, orm("C5", ctrl="CA"), "test", "interface").ack.code == "AE"
    assert _audit_count(store, "order:cancel") == 1


def test_an_order_resent_under_a_new_control_id_is_answered_aa_and_stored_once(store: Store) -> None:
    """An EHR whose ACK was lost sends the order again, and its engine gives the copy a new MSH-10: it was
    answered AE 'exists already', and the engine's error queue filled with orders that were fine. The same
    placer order with the same content is now AA, nothing stored but its log row (audited a duplicate),
    over MLLP as over HTTP (tests/service/test_service_interop.py); the same placer number for another
    patient or test is refused naming the field, and so is a change (XO) naming another patient (it changed
    the other patient's order before)."""
    server = mllp.MllpServer("127.0.0.1", 0, lambda text, at: receive_order(store, text, at, "i").ack_text)
    server.start_in_thread()
    try:
        acks = [hl7.parse(mllp.send("127.0.0.1", server.port, message, timeout_s=30)) for message in (
            orm("C1"), orm("C2"), orm("C3", patient="MRN8", name="Poe^Paul"),
            orm("C4").replace("93245^Extended ECG monitoring", "93000^ECG"),
            orm("C5", ctrl="XO", patient="MRN8", name="Poe^Paul", icd="I48.0"),
            orm("C6", ctrl="XO").replace("93245^Extended ECG monitoring", "93000^ECG"))]
    finally:
        server.shutdown()
        server.server_close()
    answers = [(str(a.segment("MSA")[1]), "".join(str(s[2]) for s in a if str(s[0]) == "ERR")) for a in acks]
    assert answers == [("AA", ""), ("AA", ""), ("AE", "PID^1^3"), ("AE", "OBR^1^4"), ("AE", "PID^1^3"),
                       ("AE", "OBR^1^4")]  # a change of test was an AE without ERR-2
    assert "same content" in str(acks[1].segment("MSA")[3])
    assert "another patient" in str(acks[2].segment("ERR")[8])
    logged = [(m.message_id, m.status, m.study_id) for m in list_inbound(store)]
    assert _studies(store) == 1 and logged[4:] == [("C2", "duplicate", 1), ("C1", "accepted", 1)]
    assert _audit_count(store, "interop:order-duplicate") == 1 and _audit_count(store, "order:change") == 0
    with store.transaction() as session:
        assert session.scalars(select(Order)).one().indications_json == '["R00.2"]'
    assert receive_order(store, orm("C2"), "t", "i").status == "duplicate"  # and C2 itself again: answered


def _audit_after(store: Store, action: str) -> list[dict[str, object]]:
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq))
        return [json.loads(row.after_json or "{}") for row in rows]


def test_a_stat_order_is_kept_changed_and_audited(store: Store) -> None:
    """The priority an order arrives with is stored and audited with the study, and an XO changes it."""
    stat = orm("C1") + "TQ1|1||||||||S^Stat^HL70485\r"
    created = receive_order(store, stat, "test", "interface")
    assert created.ack.code == "AA" and created.study_id is not None
    with store.transaction() as session:
        assert session.scalar(select(Order.priority).where(Order.placer_order_number == "PL-1")) == "stat"
    assert _audit_after(store, "study:create")[-1]["priority"] == "stat"
    assert receive_order(store, orm("C2", ctrl="XO"), "test", "interface").ack.code == "AA"
    with store.transaction() as session:
        assert session.scalar(select(Order.priority).where(Order.placer_order_number == "PL-1")) == "routine"
    assert _audit_after(store, "order:change")[-1]["priority"] == "routine"


def test_cancel_after_recording_is_refused(store: Store, tiny_record: Path) -> None:
    created = receive_order(store, orm("C1"), "test", "interface")
    assert created.study_id is not None
    import_recording(store, created.study_id, tiny_record, "tech")
    refused = receive_order(store, orm("C2", ctrl="CA"), "test", "interface")
    assert refused.ack.code == "AE" and "already recorded" in refused.ack.text


def test_patient_with_other_demographics_is_held_not_merged(store: Store) -> None:
    assert receive_order(store, orm("C1"), "t", "i").ack.code == "AA"
    held = receive_order(store, orm("C2", placer="PL-2", name="Roe^Rosa"), "t", "i")
    assert held.status == "held" and held.ack.code == "AE" and "held for review" in held.ack.text
    assert _studies(store) == 1
    assert [m.message_id for m in list_inbound(store, "held")] == ["C2"]


@pytest.mark.parametrize(
    ("text", "code", "error"),
    [
        (orm("C1", npi="1234567890"), "AE", "103"),
        (orm("C1", icd="Q99.999"), "AE", "103"),
        (orm("C1").replace("ORM^O01^ORM_O01", "ADT^A01^ADT_A01"), "AR", "201"),  # A08/A31/A40 are taken
        (orm("C1").replace("ORM^O01^ORM_O01", "ORU^R01^ORU_R01"), "AR", "200"),
        (orm("C1").replace("19560314", "19561345"), "AE", "102"),
        ("garbage", "AE", "102"),
    ],
)
def test_bad_orders_are_answered_with_the_reason(store: Store, text: str, code: str, error: str) -> None:
    outcome = receive_order(store, text, "peer", "interface")
    ack = hl7.parse(outcome.ack_text)
    assert str(ack.segment("MSA")[1]) == code and str(ack.segment("ERR")[3][0][0]) == error
    assert _studies(store) == 0 and list_inbound(store)[0].status == "refused"


def test_fhir_service_request_creates_the_order(store: Store) -> None:
    bundle = contained_service_request("FH-1", ORDERING_NPI)
    outcome = receive_order(store, json.dumps(bundle), "fhir", "interface")
    assert outcome.ack.code == "AA" and outcome.study_id is not None
    assert receive_order(store, json.dumps(bundle), "fhir", "interface").status == "duplicate"
    assert _studies(store) == 1
    # the order as it now stands, for another patient: it changed the first patient's order before
    bundle["contained"][0]["identifier"][0]["value"] = "MRN10"
    other = receive_order(store, json.dumps(bundle), "fhir", "interface")
    assert other.ack.code == "AE" and "'Patient.identifier'" in other.ack.text and _studies(store) == 1


def test_mllp_listener_takes_orders_from_parallel_peers(store: Store) -> None:
    server = mllp.MllpServer(
        "127.0.0.1", 0, lambda text, peer: receive_order(store, text, peer, "i").ack_text
    )
    server.start_in_thread()
    try:
        acks: list[str] = []

        def client(start: int) -> None:
            for n in range(start, start + 5):
                acks.append(mllp.send("127.0.0.1", server.port, orm(f"M{n}", placer=f"P{n}"), timeout_s=30))

        threads = [threading.Thread(target=client, args=(k * 5,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(hl7v2.read_ack(a).control_id for a in acks) == sorted(f"M{n}" for n in range(10))
    assert {hl7v2.read_ack(a).code for a in acks} == {"AA"} and _studies(store) == 10


def test_a_fhir_order_whose_requester_is_an_npi_alone_creates_the_study(store: Store) -> None:
    """No Practitioner in the message, the requester named by its NPI: the order is filed under that NPI."""
    document = contained_service_request("FH-7", ORDERING_NPI)
    document["contained"] = [r for r in document["contained"] if r["resourceType"] != "Practitioner"]
    npi = {"system": "http://hl7.org/fhir/sid/us-npi", "value": ORDERING_NPI}
    document["requester"] = {"identifier": npi}
    outcome = receive_order(store, json.dumps(document), "fhir", "interface")
    assert outcome.ack.code == "AA", outcome.ack.text
    with store.transaction() as session:
        order = session.scalars(select(Order)).one()
    assert (order.ordering_npi, order.ordering_name) == (ORDERING_NPI, None)


@pytest.mark.parametrize(("display_name", "parts"), [
    ("Demo, Dana, MD", ("Demo", "Dana")),  # the given name was "Dana, MD": "Dana, MD Demo, MD" printed
    ("Dana Demo, MD", ("Demo", "Dana")),
    ("Demo, Dana", ("Demo", "Dana")),
    ("Dana Demo", ("Demo", "Dana")),
])
def test_the_result_names_the_interpreter_with_the_credentials_once(display_name: str, parts: tuple) -> None:
    from ecgdesk.store.models import User
    from ecgdesk.workflow.interop_signed import _provider

    provider = _provider(User(display_name=display_name, credentials="MD", npi="1234567893"))
    assert (provider.family, provider.given, provider.credentials) == (*parts, "MD")
    assert provider.display == "Dana Demo, MD"
