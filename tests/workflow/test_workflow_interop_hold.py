"""What a withdrawn order does to its study: a cancelled order (ORC-1 CA, ServiceRequest revoked or
entered-in-error) takes no recording and is flagged where the study is listed and shown; on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_builders import request

from ecgdesk.errors import ConflictError
from ecgdesk.store import Store
from ecgdesk.store.enums import OrderState, Role, StudyStatus
from ecgdesk.workflow.interop_orders import receive_order
from ecgdesk.workflow.review import worklist
from ecgdesk.workflow.review_schemas import WorklistIn
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.uploads import check_study_open
from ecgdesk.workflow.views import show_study
from ecgdesk.workflow.worklist import list_studies

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
