"""What a withdrawn order does to its study: a cancelled order (ORC-1 CA, ServiceRequest revoked or
entered-in-error) and one on hold (HD, on-hold; until RL or active again) take no recording and are flagged
where the study is listed and shown; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from workflow_builders import request

from ecgdesk.errors import ConflictError
from ecgdesk.interop.model import OrderPriority
from ecgdesk.store import Store
from ecgdesk.store.enums import OrderState, Role, StudyStatus
from ecgdesk.workflow.interop_orders import receive_order
from ecgdesk.workflow.review import worklist
from ecgdesk.workflow.review_schemas import WorklistIn
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.uploads import check_study_open
from ecgdesk.workflow.views import show_study
from ecgdesk.workflow.worklist import list_studies

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import contained_service_request

ORM = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||MRN7^^^HOSP^MR||Roe^Rita||19560314|F\r"
    "ORC|{ctrl}|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93245^Extended ECG monitoring^C4|{priority}\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)


def orm(control: str, ctrl: str = "NW", placer: str = "PL-1", priority: str = "") -> str:
    return ORM.format(control=control, ctrl=ctrl, placer=placer, priority=priority)


def test_a_cancelled_order_takes_no_recording_and_is_flagged(store: Store, tiny_record: Path) -> None:
    """A cancel (CA) was acknowledged (AA) and left the study 'ordered', first on the technician's worklist
    when the order was STAT, and open to a recording, an analysis, a signature and a claim for an order the
    EHR had withdrawn."""
    stat = receive_order(store, orm("C1", priority="S"), "peer", "interface")
    cancel = receive_order(store, orm("C2", "CA"), "peer", "interface")
    routine = create_study(store, request(), "tech")
    assert (stat.ack.code, cancel.ack.code, cancel.study_id) == ("AA", "AA", stat.study_id)
    assert stat.study_id is not None
    for refused in (lambda: check_study_open(store, stat.study_id or 0),
                    lambda: import_recording(store, stat.study_id or 0, tiny_record, "tech")):
        with pytest.raises(ConflictError, match="cancelled") as error:
            refused()
        assert error.value.field == "order" and "PL-1" in error.value.reason
    check_study_open(store, routine)  # an open order still takes one
    assert show_study(store, stat.study_id).status is StudyStatus.ORDERED
    assert show_study(store, stat.study_id).order.state is OrderState.CANCELLED
    assert show_study(store, routine).order.state is OrderState.ACTIVE
    assert {row.id: row.order_state for row in list_studies(store)} == {
        routine: OrderState.ACTIVE, stat.study_id: OrderState.CANCELLED}
    # the technician's list: a withdrawn STAT order is not urgent work ahead of the open one
    page = worklist(store, "tech", Role.TECHNICIAN, WorklistIn())
    assert [(r.id, r.order_state) for r in page.items] == [(routine, OrderState.ACTIVE),
                                                           (stat.study_id, OrderState.CANCELLED)]


def _fhir(status: str, **changes: Any) -> str:
    document = {**contained_service_request("FH-1"), "status": status, **changes}
    return json.dumps(document)


ANOTHER_REASON = {
    "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I49.3"}]}]
}


def test_a_fhir_order_on_hold_is_held_and_active_again_releases_it(store: Store) -> None:
    """FHIR R4 ServiceRequest.status on-hold: 'temporarily withdrawn but expected to resume'. It was read as
    a change of the order: what it said was applied and the study stayed open to work. Now the order is held
    as it stands (no recording, flagged), and the request active again is the order as it now stands: changed
    and released (a change of a known order by an active ServiceRequest was refused as 'exists already')."""
    new = receive_order(store, _fhir("active"), "peer", "interface")
    assert new.ack.code == "AA" and new.study_id is not None
    hold = receive_order(store, _fhir("on-hold", **ANOTHER_REASON), "peer", "interface")
    assert (hold.ack.code, hold.study_id) == ("AA", new.study_id) and "on hold" in hold.ack.text
    view = show_study(store, new.study_id)
    assert (view.order.state, view.order.indications) == (OrderState.ON_HOLD, ["R00.2"])
    with pytest.raises(ConflictError, match="on hold"):
        check_study_open(store, new.study_id)
    again = receive_order(store, _fhir("active", priority="stat", **ANOTHER_REASON), "peer", "interface")
    assert again.ack.code == "AA" and "released" in again.ack.text, again.ack.text
    view = show_study(store, new.study_id)
    assert (view.order.state, view.order.indications, view.order.priority) == (
        OrderState.ACTIVE, ["I49.3"], OrderPriority.STAT)
    check_study_open(store, new.study_id)
    completed = receive_order(store, _fhir("completed"), "peer", "interface")
    assert completed.ack.code == "AE" and "ServiceRequest.status" in completed.ack.text


def test_hl7_hold_and_release(store: Store) -> None:
    """ORC-1 HD (hold order request) and RL (release previous hold), HL7 table 0119, were refused as 'not NW,
    XO or CA'."""
    new = receive_order(store, orm("C1"), "peer", "interface")
    hold = receive_order(store, orm("C2", "HD"), "peer", "interface")
    assert (new.ack.code, hold.ack.code, hold.study_id) == ("AA", "AA", new.study_id)
    assert [row.order_state for row in list_studies(store)] == [OrderState.ON_HOLD]
    with pytest.raises(ConflictError, match="on hold"):
        check_study_open(store, new.study_id or 0)
    release = receive_order(store, orm("C3", "RL"), "peer", "interface")
    assert release.ack.code == "AA" and release.ack.text == "order released"
    assert [row.order_state for row in list_studies(store)] == [OrderState.ACTIVE]
    check_study_open(store, new.study_id or 0)
    unknown = receive_order(store, orm("C4", "HD", placer="PL-9"), "peer", "interface")
    assert unknown.ack.code == "AE" and "no open order" in unknown.ack.text
