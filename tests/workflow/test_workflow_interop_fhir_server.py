"""Signed results POSTed to a FHIR server that answers badly: a 200 that is not FHIR, an OperationOutcome
error under 200, an answer that is not HTTP, a redirect (a transaction-response whose entry failed:
tests/interop/test_fhir_server.py). Each is a failed attempt, audited and retried, and the Bundle is counted
as delivered once, when the server took it."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import select

from ecgdesk.errors import InputError
from ecgdesk.store import Store
from ecgdesk.store.interop_models import OutboxItem
from ecgdesk.store.models import AnalysisRun, AuditEntry
from ecgdesk.workflow import interop_results
from ecgdesk.workflow.interop_results import add_target, deliver_claimed, deliver_due
from ecgdesk.workflow.interop_targets import set_target_enabled
from ecgdesk.workflow.reporting import add_addendum

pytest.importorskip("ecgdesk.reports.scanning")

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from fhir_double import FhirDouble, serving
from test_workflow_interop import _signed
from workflow_builders import PIN

OUTCOME_ERROR = json.dumps({"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": "required", "diagnostics": "DiagnosticReport.code: minimum required = 1",
     "expression": ["Bundle.entry[4].resource.code"]}]}).encode()
MEAN_RATE = "8867-4"  # LOINC Heart rate: our hr_mean
TAKEN = json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": [
    {"response": {"status": "201 Created", "location": "DiagnosticReport/9/_history/1"}}]}).encode()


class _Server(http.server.BaseHTTPRequestHandler):
    #: (content type, body) answered with 200 in turn; None: an answer that is not HTTP; "moved": a redirect
    answers: ClassVar[list[tuple[str, bytes] | str | None]] = []
    posted: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posted.append(dict(self.headers))
        answer = type(self).answers.pop(0)
        if answer is None:
            self.wfile.write(b"+OK POP3 server ready\r\n")
            return
        if answer == "moved":  # http to https, say: urllib followed it with a GET, without the Bundle
            self.send_response(301)
            self.send_header("Location", "/fhir/moved")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        assert isinstance(answer, tuple)
        self.send_response(200)
        self.send_header("Content-Type", answer[0])
        self.send_header("Content-Length", str(len(answer[1])))
        self.end_headers()
        self.wfile.write(answer[1])

    def do_GET(self) -> None:
        body = b'{"resourceType": "CapabilityStatement", "status": "active", "kind": "instance"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fhir_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    finally:
        server.shutdown()
        server.server_close()


def _due_now(store: Store) -> None:
    with store.transaction() as session:  # let the retry delay pass
        for item in session.scalars(select(OutboxItem)):
            item.next_attempt_at = item.created_at


def test_a_fhir_server_answer_that_is_no_delivery_is_retried_until_one_is(
    store: Store, tiny_record: Path, fhir_url: str
) -> None:
    _Server.posted = []
    _Server.answers = [None, ("text/html", b"<html><body>Sign in to continue</body></html>"),
                       ("application/fhir+json", OUTCOME_ERROR), "moved", ("application/fhir+json", TAKEN)]
    add_target(store, "fhir", "fhir", fhir_url, ["fhir"], "admin")
    study_id = _signed(store, tiny_record)
    errors = []
    for _ in range(4):
        outcome = deliver_due(store, "worker")[0]  # the answer that is not HTTP raised out of it before
        assert outcome.status == "pending", outcome.last_error  # each was counted as sent before
        errors.append(outcome.last_error or "")
        _due_now(store)
    assert "BadStatusLine" in errors[0]
    assert "not FHIR" in errors[1] and "Sign in" in errors[1]
    assert "minimum required" in errors[2] and "Bundle.entry[4].resource.code" in errors[2]
    assert "HTTP 301" in errors[3] and "/fhir/moved" in errors[3]
    sent = deliver_due(store, "worker")
    assert [o.status for o in sent] == ["sent"] and deliver_due(store, "worker", retry_failed=True) == []
    assert len(_Server.posted) == 5 and _Server.posted[0]["Accept"] == "application/fhir+json"
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(study_id),
                                                        AuditEntry.action.like("interop:%")))
        actions = [row.action for row in rows]
        item = session.scalars(select(OutboxItem)).one()
        assert item.receipt == "HTTP 200 transaction-response, 1 entries, DiagnosticReport/9/_history/1"
    assert actions.count("interop:retry") == 4 and actions.count("interop:sent") == 1


@pytest.mark.parametrize(("kind", "address", "formats"), [
    ("fhir", "http://127.0.0.1:9/fhir", ["hl7"]),
    ("fhir", "http://127.0.0.1:9/fhir", ["fhir", "dicom"]),
    ("mllp", "127.0.0.1:9", ["hl7", "fhir"]),
])
def test_a_target_is_given_only_the_format_its_kind_takes(
    store: Store, kind: str, address: str, formats: list[str]
) -> None:
    """A FHIR target with the CLI's default formats (hl7) was sent ORUs labelled application/fhir+json."""
    with pytest.raises(InputError) as caught:
        add_target(store, "t", kind, address, formats, "admin")
    assert caught.value.field == "formats" and "only" in caught.value.reason


def test_an_item_another_deliverer_took_over_when_the_lease_ran_out_is_not_sent_again(
    store: Store, tiny_record: Path, tmp_path: Path
) -> None:
    """A deliverer leases up to 100 items for 5 minutes and sends them one by one; behind a slow server the
    later ones come due again meanwhile, and a second deliverer (a `listen --deliver` timer beside an
    `outbox --send`) claims and sends them. The first one sent them again when it got to them."""
    add_target(store, "chart", "folder", str(tmp_path), ["hl7"], "admin")
    _signed(store, tiny_record)
    sent: list[int] = []

    def sender(target: object, item: OutboxItem, files: object) -> str:
        sent.append(item.id)
        return "written"

    claimed = interop_results._claim(store, 100, False)  # deliverer A
    _due_now(store)  # A's sends before this one outlast its lease
    assert [o.status for o in deliver_due(store, "B", sender=sender)] == ["sent"]
    assert deliver_claimed(store, claimed, "A", sender=sender) == [] and len(sent) == 1


def _stored_once(double: FhirDouble, status: str, provenances: int, corrected: frozenset[str] = frozenset()
                 ) -> None:
    """One DiagnosticReport in ``status``, an Observation per measurement (``corrected`` those of the LOINC
    codes ``corrected``, the others final), a Provenance per signature."""
    reports, observations = double.of("DiagnosticReport"), double.of("Observation")
    assert len(reports) == 1 and reports[0]["status"] == status
    keys = [o["identifier"][0]["value"] for o in observations]
    assert len(keys) == len(set(keys)) == len(reports[0]["result"]) > 0
    assert {r["reference"] for r in reports[0]["result"]} == {f"Observation/{o['id']}" for o in observations}
    assert {o["code"]["coding"][0]["code"] for o in observations if o["status"] == "corrected"} == corrected
    assert {o["status"] for o in observations if o["code"]["coding"][0]["code"] not in corrected} == {"final"}
    assert len(double.of("Patient")) == 1 and len(double.of("Practitioner")) == 2
    assert len(double.of("Provenance")) == provenances


def _reanalysed_mean_rate(store: Store, study_id: int) -> None:
    """A new current analysis of the study: its mean heart rate 5/min higher, its other values the same."""
    with store.transaction() as session:
        run = session.scalars(select(AnalysisRun).where(AnalysisRun.study_id == study_id,
                                                         AnalysisRun.is_current.is_(True))).one()
        findings = json.loads(run.findings_json)
        findings["summary"]["heart_rate"]["mean_bpm"] += 5
        run.is_current = False
        session.add(AnalysisRun(
            study_id=study_id, recording_id=run.recording_id, parent_run_id=run.id,
            algorithm_version=run.algorithm_version, input_hash="edited-" + run.input_hash[:50],
            findings_json=json.dumps(findings), beats_sha256=run.beats_sha256, beats_path=run.beats_path,
            analyzable_s=run.analyzable_s, wear_s=run.wear_s, is_current=True, created_by="tech",
            created_at=run.created_at))


def test_a_result_whose_answer_was_lost_is_stored_once_and_an_addendum_updates_it(
    store: Store, tiny_record: Path
) -> None:
    """The server stored the Bundle but its answer never came: the retry POSTed the DiagnosticReport and its
    Observations (plain creates) again, so the EHR showed the report twice, and an addendum's corrected
    result made a third beside them. Now each is keyed by its identifier: the retry rewrites them, the
    corrected result updates that one report (status corrected) and its Observations, and only the new
    signature's Provenance is added."""
    with serving() as double:
        add_target(store, "ehr", "fhir", double.url, ["fhir"], "admin")
        study_id = _signed(store, tiny_record)
        double.lose_answers = 1
        lost = deliver_due(store, "worker")[0]
        assert lost.status == "pending" and "RemoteDisconnected" in (lost.last_error or "")
        _due_now(store)
        assert [o.status for o in deliver_due(store, "worker")] == ["sent"] and double.transactions == 2
        _stored_once(double, "final", provenances=1)
        report_id = double.of("DiagnosticReport")[0]["id"]
        _reanalysed_mean_rate(store, study_id)
        add_addendum(store, study_id, "dr.a", PIN, "Correction: one 2.1 s pause at night.")
        double.lose_answers = 1
        assert deliver_due(store, "worker")[0].status == "pending"
        _due_now(store)
        assert [o.status for o in deliver_due(store, "worker")] == ["sent"] and double.transactions == 4
        # the mean rate changed: its Observation is corrected; every other value stands, final (all were
        # sent corrected before, which tells the EHR each value was wrong)
        _stored_once(double, "corrected", provenances=2, corrected=frozenset({MEAN_RATE}))
        report = double.of("DiagnosticReport")[0]
        assert report["id"] == report_id and report["meta"]["versionId"] == "4"
        assert "2.1 s pause" in report["conclusion"]
        assert deliver_due(store, "worker", retry_failed=True) == []
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == str(study_id)))
        actions = [row.action for row in rows]
    assert actions.count("interop:retry") == 2 and actions.count("interop:sent") == 2


def test_an_older_result_is_never_sent_after_a_newer_and_a_disabled_target_is_sent_nothing(
    store: Store, tiny_record: Path
) -> None:
    """The first result failed (the server was down) and waited for its retry while the addendum's corrected
    result went out: the retry then sent the first after it, and the EHR's report went back to 'final'
    without the addendum (a FHIR server updates it in place; an ORU F after a C alike). It is cancelled now,
    superseded, audited. And a target disabled while a result waits for it was sent it all the same (there
    was no command to disable one): it waits now, unsent and no attempt counted, until enabled again."""
    with serving() as double:
        add_target(store, "ehr", "fhir", double.url, ["fhir"], "admin")
        study_id = _signed(store, tiny_record)
        double.refuse = 1
        assert deliver_due(store, "worker")[0].status == "pending"  # the first result: 503, retried later
        add_addendum(store, study_id, "dr.a", PIN, "Correction: one 2.1 s pause at night.")
        assert [(o.status, o.corrected) for o in deliver_due(store, "worker")] == [("sent", True)]
        _due_now(store)
        superseded = deliver_due(store, "worker")
        assert [(o.status, o.corrected) for o in superseded] == [("cancelled", False)]
        assert "superseded: report version" in (superseded[0].last_error or "")
        assert double.transactions == 1 and double.of("DiagnosticReport")[0]["status"] == "corrected"
        add_addendum(store, study_id, "dr.a", PIN, "Second correction: no AF.")
        assert set_target_enabled(store, "ehr", False, "admin").waiting == 1
        assert deliver_due(store, "worker") == [] and double.transactions == 1
        enabled = set_target_enabled(store, "ehr", True, "admin")
        assert (enabled.waiting, enabled.caught_up) == (1, ())  # queued before it was disabled: waited
        assert [o.status for o in deliver_due(store, "worker")] == ["sent"] and double.transactions == 2
        assert "no AF" in double.of("DiagnosticReport")[0]["conclusion"]
        # amended twice while it is off: neither was queued for it, and enabling it did not send them (the EHR
        # kept the version before for good); now the newest is queued on enabling, alone, the older never
        set_target_enabled(store, "ehr", False, "admin")
        add_addendum(store, study_id, "dr.a", PIN, "Third correction: rate 70.")
        newest = add_addendum(store, study_id, "dr.a", PIN, "Fourth correction: QT 400 ms.").version
        set_target_enabled(store, "ehr", False, "admin")  # disabled again: it was off since the first
        enabled = set_target_enabled(store, "ehr", True, "admin")
        assert (enabled.waiting, enabled.caught_up) == (1, ((study_id, newest),))
        assert [(o.status, o.corrected) for o in deliver_due(store, "worker")] == [("sent", True)]
        assert double.transactions == 3 and "QT 400 ms" in double.of("DiagnosticReport")[0]["conclusion"]
        assert set_target_enabled(store, "ehr", True, "admin").caught_up == ()  # enabled already: nothing
    with store.transaction() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.like("interop:%")))
        entries = [(row.action, json.loads(row.after_json)) for row in rows]
        actions = [action for action, _ in entries]
        attempts = [item.attempts for item in session.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    assert actions.count("interop:cancelled") == 1 and actions.count("interop:sent") == 3
    assert actions.count("interop:target-disable") == 3 and attempts == [1, 1, 1, 1]
    assert [after["queued"] for _, after in entries if "queued" in after] == [[{"study": study_id,
                                                                                "version": newest}]]
    assert [after["version"] for action, after in entries
            if action == "interop:queue" and after.get("missed_while_disabled")] == [newest]
