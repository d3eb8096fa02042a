"""HL7 v2 enhanced acknowledgement mode (v2.5 chapter 2.9.3): an order whose MSH-15/MSH-16 are valued is
answered by an accept ACK (CA/CE/CR) when MSH-15 asks, and by an application ACK (AA/AE/AR) of its own,
queued on the results outbox, when MSH-16 asks; original mode is answered as before."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from sqlalchemy import select

from backends import make_store
from ecgdesk.cli.interop import _watch_once
from ecgdesk.errors import InputError
from ecgdesk.interop import hl7v2, mllp
from ecgdesk.store import Store
from ecgdesk.store.interop_models import InboundMessage, OutboxItem
from ecgdesk.store.models import AppSetting, AuditEntry, Order
from ecgdesk.workflow.interop_acks import misaddressed_acks, not_sendable
from ecgdesk.workflow.interop_orders import list_inbound, receive_order
from ecgdesk.workflow.interop_results import add_target, deliver_due, list_deliveries, result_receiver
from ecgdesk.workflow.interop_targets import set_target_enabled, set_target_senders
from ecgdesk.workflow.lifecycle import now

sys.path.insert(0, str(Path(__file__).parents[1] / "interop"))
from interop_builders import signed_result

ORDER = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|{processing}|2.5.1|||{accept}|"
    "{application}\r"
    "PID|1||MRN1^^^HOSP^MR||Roe^Rita||19560314|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93000^ECG^C4\r"
    "DG1|1||{icd}^Palpitations^I10\r"
)


#: the sender (MSH-3^MSH-4) of ORDER, whose EHR the targets of these tests are
EHR = "EHR^HOSP"


def order(control: str, accept: str = "AL", application: str = "AL", icd: str = "R00.2",
          processing: str = "P") -> str:
    return ORDER.format(control=control, accept=accept, application=application, icd=icd,
                        placer=f"PL-{control}", processing=processing)


def _answer(store: Store, text: str, peer: str) -> str:
    return receive_order(store, text, peer, "i").ack_text


def _msa(ack: str) -> tuple[str, str]:
    msa = hl7.parse(ack).segment("MSA")
    return str(msa[1]), str(msa[2])


def _valid(ack: str) -> None:
    parse_message(ack, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()


class _Ehr:
    """The EHR's interface engine on loopback: takes our application ACKs and answers each with a CA."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.server = mllp.MllpServer("127.0.0.1", 0, self._handle)

    def _handle(self, text: str, peer: str) -> str:
        self.received.append(text)
        control = hl7v2.message_header(text, peer)[1]
        return hl7v2.build_ack(hl7v2.AckResult("CA", control, "stored"))


@pytest.fixture
def ehr() -> Iterator[_Ehr]:
    ehr = _Ehr()
    ehr.server.start_in_thread()
    yield ehr
    ehr.server.shutdown()
    ehr.server.server_close()


def test_enhanced_mode_answers_a_commit_accept_and_sends_the_application_ack_on_its_own(
    store: Store, ehr: _Ehr
) -> None:
    """MSH-15/MSH-16 AL were not read: the sender got one AA on the connection and never the application
    ACK it asked for as a message of its own (an engine in enhanced mode waits for it, then resends)."""
    add_target(store, "ehr", "mllp", f"127.0.0.1:{ehr.server.port}", ["hl7"], "admin", senders=[EHR])
    listener = mllp.MllpServer("127.0.0.1", 0, lambda text, peer: _answer(store, text, peer))
    listener.start_in_thread()
    try:
        accept = mllp.send("127.0.0.1", listener.port, order("E1"), timeout_s=30)
    finally:
        listener.shutdown()
        listener.server_close()
    _valid(accept)
    assert _msa(accept) == ("CA", "E1") and "follows as a message of its own" in accept
    assert str(hl7.parse(accept).segment("MSH")[5]) == "EHR"  # addressed to the sender
    (item,) = list_deliveries(store)
    assert (item.format, item.study_id, item.status) == ("ack", None, "pending")
    assert [o.status for o in deliver_due(store, "worker")] == ["sent"]
    (application,) = ehr.received
    _valid(application)
    message = hl7.parse(application)
    assert _msa(application) == ("AA", "E1")
    assert str(message.segment("MSH")[10]) != "ACK-E1"  # a message of its own, with its own control id
    assert (str(message.segment("MSH")[15]), str(message.segment("MSH")[16])) == ("AL", "NE")
    with store.transaction() as session:
        actions = [a.action for a in session.scalars(select(AuditEntry))]
    assert "interop:app-ack-queued" in actions and "interop:sent" in actions
    assert list_inbound(store)[0].app_ack == "AA queued for ehr"


@pytest.mark.parametrize(
    ("accept", "application", "icd", "answered", "queued"),
    [
        ("NE", "AL", "R00.2", None, "AA"),  # never an accept ACK
        ("ER", "AL", "R00.2", None, "AA"),  # stored: no error, no accept ACK
        ("SU", "NE", "R00.2", "CA", None),  # never an application ACK
        ("AL", "ER", "R00.2", "CA", None),  # processed without error: no application ACK
        ("AL", "ER", "BAD", "CA", "AE"),  # an error: the application ACK says which
        ("AL", "SU", "BAD", "CA", None),
        ("AL", "", "R00.2", "CA", "AA"),  # enhanced mode, MSH-16 empty: read as AL
    ],
)
def test_each_ack_is_sent_only_when_its_condition_asks(
    store: Store, tmp_path: Path, accept: str, application: str, icd: str, answered: str | None,
    queued: str | None,
) -> None:
    add_target(store, "chart", "folder", str(tmp_path / "out"), ["hl7"], "admin", senders=[EHR])
    outcome = receive_order(store, order("C1", accept, application, icd), "peer", "i")
    assert outcome.ack.code == ("AA" if icd != "BAD" else "AE")  # the application's answer, kept
    assert (_msa(outcome.ack_text)[0] if outcome.ack_text else None) == answered
    with store.transaction() as session:
        items = list(session.scalars(select(OutboxItem)))
    assert [_msa(i.payload or "")[0] for i in items] == ([queued] if queued else [])
    if queued == "AE":
        err = hl7.parse(items[0].payload or "").segment("ERR")
        assert str(err[2]) == "DG1^1^3" and "ICD-10-CM" in str(err[8])


def test_a_header_reject_is_a_commit_reject_without_an_application_ack(store: Store, tmp_path: Path) -> None:
    add_target(store, "chart", "folder", str(tmp_path / "out"), ["hl7"], "admin", senders=[EHR])
    outcome = receive_order(store, order("T1", processing="T"), "peer", "i")
    _valid(outcome.ack_text)
    assert _msa(outcome.ack_text) == ("CR", "T1") and outcome.accept == "CR"
    assert str(hl7.parse(outcome.ack_text).segment("ERR")[3][0][0]) == "202"
    reused = receive_order(store, order("T1", icd="I10"), "peer", "i")  # MSH-10 of another message
    assert _msa(reused.ack_text)[0] == "CE"
    assert list_deliveries(store) == []


def test_without_an_hl7_destination_the_application_ack_is_recorded_as_not_sendable(store: Store) -> None:
    add_target(store, "fhir", "fhir", "http://127.0.0.1:9/fhir", ["fhir"], "admin")  # takes no v2 ACK
    outcome = receive_order(store, order("N1"), "peer", "i")
    assert _msa(outcome.ack_text)[0] == "CA"
    # the sender is told not to wait for it
    assert "no application ACK can be sent" in str(hl7.parse(outcome.ack_text).segment("MSA")[3])
    assert list_deliveries(store) == []
    (row,) = list_inbound(store)
    assert row.app_ack == not_sendable(("EHR", "HOSP"))
    with store.transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "interop:app-ack-unsendable")
        ).one()
    assert (entry.entity, entry.entity_id) == ("inbound_message", "1")


def test_a_resend_gets_the_commit_accept_again_and_no_second_application_ack(
    store: Store, tmp_path: Path
) -> None:
    add_target(store, "chart", "folder", str(tmp_path / "out"), ["hl7"], "admin", senders=[EHR])
    receive_order(store, order("D1"), "peer", "i")
    again = receive_order(store, order("D1"), "peer", "i")
    assert again.status == "duplicate" and _msa(again.ack_text) == ("CA", "D1")
    assert len(list_deliveries(store)) == 1
    # the same order under a new control id (its ACK was lost): a resend of the order, not of this message,
    # which is answered AA by an application ACK of its own (it was an AE 'exists already' before)
    resent = receive_order(store, order("D1").replace("|D1|", "|D2|", 1), "peer", "i")
    assert resent.status == "duplicate" and resent.ack.code == "AA" and _msa(resent.ack_text) == ("CA", "D2")
    assert "application acknowledgement follows" in resent.ack_text and len(list_deliveries(store)) == 2


def test_original_mode_is_answered_as_before(store: Store, tmp_path: Path) -> None:
    add_target(store, "chart", "folder", str(tmp_path / "out"), ["hl7"], "admin", senders=[EHR])
    outcome = receive_order(store, order("O1", "", ""), "peer", "i")
    assert _msa(outcome.ack_text) == ("AA", "O1") and outcome.accept == ""
    assert list_deliveries(store) == []


def test_the_listener_sends_nothing_where_msh15_asks_for_no_accept_ack(store: Store) -> None:
    listener = mllp.MllpServer("127.0.0.1", 0, lambda text, peer: _answer(store, text, peer))
    listener.start_in_thread()
    try:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as peer:
            peer.sendall(mllp.frame(order("S1", accept="NE")) + mllp.frame(order("S2")))
            reader = mllp.FrameReader(mllp.MAX_MESSAGE_BYTES)
            frames: list[bytes] = []
            while not frames:
                frames = reader.feed(peer.recv(65536))
    finally:
        listener.shutdown()
        listener.server_close()
    assert [_msa(mllp.decode(f)) for f in frames] == [("CA", "S2")]  # no empty frame for S1 before it


def test_the_folder_watcher_writes_no_ack_file_where_none_is_asked_for(store: Store, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.hl7").write_text(order("F1", accept="NE", application="NE"))
    (inbox / "b.hl7").write_text(order("F2"))
    assert _watch_once(store, inbox, "i") == 2
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.hl7", "b.hl7", "b.hl7.ack"]
    assert _msa((inbox / "done" / "b.hl7.ack").read_text().replace("\n", "\r"))[0] == "CA"


def _from(text: str, application: str, facility: str) -> str:
    return text.replace("|EHR|HOSP|", f"|{application}|{facility}|", 1)


def test_the_application_ack_goes_back_to_its_sender_only(store: Store, tmp_path: Path) -> None:
    """A site with two EHRs: each one's application ACKs went to both targets (every enabled HL7 target),
    so each EHR received the other's acknowledgements and learnt which orders the other placed."""
    add_target(store, "ehr-a", "folder", str(tmp_path / "a"), ["hl7"], "admin", senders=[EHR])
    clinic = ["CLINIC^EAST", "CLINIC^WEST"]
    add_target(store, "ehr-b", "mllp", "127.0.0.1:9", ["hl7"], "admin", senders=clinic)
    receive_order(store, order("R1"), "peer", "i")
    receive_order(store, _from(order("R2"), "CLINIC", "WEST"), "peer", "i")
    receive_order(store, _from(order("R3"), "CLINIC", "NORTH"), "peer", "i")  # no target of its own
    with store.transaction() as session:
        items = list(session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        unsendable = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "interop:app-ack-unsendable")
        ).one()
    # (target, MSA-2 the order answered, MSH-5 the application it is addressed to)
    messages = [(i.target_id, hl7.parse(i.payload or "")) for i in items]
    routed = [(t, str(m.segment("MSA")[2]), str(m.segment("MSH")[5])) for t, m in messages]
    assert routed == [(1, "R1", "EHR"), (2, "R2", "CLINIC")]
    assert [(m.message_id, m.app_ack) for m in list_inbound(store)] == [
        ("R3", not_sendable(("CLINIC", "NORTH"))),
        ("R2", "AA queued for ehr-b"),
        ("R1", "AA queued for ehr-a"),
    ]
    assert "CLINIC^NORTH" in list_inbound(store)[0].app_ack
    assert json.loads(unsendable.after_json)["sender"] == "CLINIC^NORTH"


def test_application_acks_not_sendable_while_the_target_was_off_go_when_it_is_enabled(
    store: Store, tmp_path: Path
) -> None:
    """The results signed while a target was disabled were queued on enabling it, the application ACKs
    recorded not sendable meanwhile never: the EHR waited for them for good."""
    add_target(store, "ehr", "folder", str(tmp_path / "a"), ["hl7"], "admin", senders=[EHR])
    set_target_enabled(store, "ehr", False, "admin")
    receive_order(store, order("D1"), "peer", "i")
    receive_order(store, _from(order("D2"), "CLINIC", "NORTH"), "peer", "i")  # another EHR's: stays
    assert list_inbound(store)[1].app_ack == not_sendable(("EHR", "HOSP"))
    enabled = set_target_enabled(store, "ehr", True, "admin")
    assert (enabled.acks, enabled.waiting) == (("D1",), 1)
    (item,) = list_deliveries(store)
    assert (item.target, item.format, item.status) == ("ehr", "ack", "pending")
    with store.transaction() as session:
        payload = session.scalars(select(OutboxItem.payload)).one() or ""
        queued = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "interop:app-ack-queued")).one()
    _valid(payload)
    message = hl7.parse(payload)
    assert (str(message.segment("MSH")[9]), str(message.segment("MSH")[5])) == ("ACK^O01^ACK", "EHR")
    assert _msa(payload) == ("AA", "D1") and json.loads(queued.after_json)["missed_while_disabled"]
    assert [m.app_ack for m in list_inbound(store)] == [not_sendable(("CLINIC", "NORTH")),
                                                        "AA queued for ehr"]
    set_target_enabled(store, "ehr", False, "admin")
    assert set_target_enabled(store, "ehr", True, "admin").acks == ()  # queued once


def _app_acks(store: Store) -> dict[str, str]:
    return {m.message_id: m.app_ack for m in list_inbound(store)}


def test_application_acks_not_sendable_before_a_target_took_their_sender_go_within_the_late_window(
    store: Store, tmp_path: Path
) -> None:
    """An application ACK recorded not sendable because no target named its sender yet, or before its
    target was disabled, stayed so for good: giving the target that sender, adding a target naming it, or
    enabling the target queued none of them (only those recorded while it was off went, however old). Now
    those of messages received within ``late_app_ack_hours`` (24 h by default; 0: none) go, audited."""
    add_target(store, "ehr", "folder", str(tmp_path / "a"), ["hl7"], "admin")  # names no sender yet
    for control, application, facility in (("L1", "EHR", "HOSP"), ("L2", "EHR", "HOSP"),
                                           ("L3", "CLINIC", "NORTH"), ("L4", "CLINIC", "NORTH")):
        receive_order(store, _from(order(control), application, facility), "peer", "i")
    with store.transaction() as session:  # L2, L4: two days old, an ACK to them is noise to the EHR
        for row in session.scalars(select(InboundMessage).where(InboundMessage.message_id.in_(["L2", "L4"]))):
            row.received_at = now() - timedelta(days=2)
    assert set_target_senders(store, "ehr", [EHR], "admin").acks == ("L1",)
    clinic = add_target(store, "clinic", "folder", str(tmp_path / "b"), ["hl7"], "admin",
                        senders=["CLINIC^NORTH"])
    assert clinic.acks == ("L3",)
    assert sorted((d.target, d.format) for d in list_deliveries(store)) == [("clinic", "ack"), ("ehr", "ack")]
    acks = _app_acks(store)
    assert (acks["L1"], acks["L3"]) == ("AA queued for ehr", "AA queued for clinic")
    assert acks["L2"] == not_sendable(("EHR", "HOSP")) and acks["L4"] == not_sendable(("CLINIC", "NORTH"))
    with store.transaction() as session:
        queued = [json.loads(a) for a in session.scalars(select(AuditEntry.after_json).where(
            AuditEntry.action == "interop:app-ack-queued").order_by(AuditEntry.seq))]
        given = session.scalars(select(AuditEntry.after_json).where(
            AuditEntry.action == "interop:target-senders")).one()
    assert [(a["message_id"], a["sender_added"]) for a in queued] == [("L1", True), ("L3", True)]
    assert json.loads(given)["application_acks"] == ["L1"]
    # recorded before the target was disabled; a disabled target given its sender takes nothing yet
    receive_order(store, _from(order("L5"), "LAB", "X"), "peer", "i")
    set_target_enabled(store, "ehr", False, "admin")
    assert set_target_senders(store, "ehr", [EHR, "LAB^X"], "admin").acks == ()
    assert set_target_enabled(store, "ehr", True, "admin").acks == ("L5",)
    receive_order(store, _from(order("L6"), "LAB", "Y"), "peer", "i")
    with store.transaction() as session:  # the administrator wants no late ACK at all
        session.add(AppSetting(name="late_app_ack_hours", value_json="0", changed_by="boss",
                               changed_at=now()))
    assert set_target_senders(store, "ehr", [EHR, "LAB^X", "LAB^Y"], "admin").acks == ()
    assert _app_acks(store)["L6"] == not_sendable(("LAB", "Y"))


def test_a_target_is_given_its_senders_checked_and_audited(tmp_path: Path) -> None:
    """A target set up before senders were kept takes no application ACK until it is given its EHR's
    sender; a sender that is not APP^FACILITY is refused naming the field. (Python checks: SQLite only.)"""
    store = make_store(tmp_path, "sqlite")
    add_target(store, "chart", "folder", str(tmp_path / "out"), ["hl7"], "admin")
    receive_order(store, order("G1"), "peer", "i")
    assert list_deliveries(store) == [] and list_inbound(store)[0].app_ack.startswith("not sendable")
    given = set_target_senders(store, "chart", [" EHR^HOSP ", "EHR^HOSP", "LAB"], "admin")
    assert (given.target.senders, given.acks) == ((EHR, "LAB^"), ("G1",))  # G1's ACK: a minute late
    receive_order(store, order("G2"), "peer", "i")
    assert [d.target for d in list_deliveries(store)] == ["chart", "chart"]
    for bad in ("^HOSP", "EHR^HOSP^X", "EHR|X", "A,B"):
        with pytest.raises(InputError) as error:
            set_target_senders(store, "chart", [bad], "admin")
        assert error.value.field == "sender"
    with pytest.raises(InputError, match="no delivery target 'nope'"):
        set_target_senders(store, "nope", [EHR], "admin")
    with store.transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "interop:target-senders")).one()
    assert json.loads(entry.before_json)["senders"] == []
    assert json.loads(entry.after_json)["senders"] == [EHR, "LAB^"]
    store.close()


def test_a_sender_named_with_escape_sequences_is_answered_as_it_named_itself(
    store: Store, tmp_path: Path
) -> None:
    """MSH-3 ``EHR\\S\\ONE`` (the application EHR^ONE) and MSH-4 ``WE\\T\\ST``, through the reader and back
    out, parsed by hl7apy: the ACKs and the ORU must name the sender as it named itself. The sender was kept
    unescaped (``EHR^ONE^WE&ST``), so the ORU split it at the wrong ``^`` (MSH-5 ``EHR``, MSH-6
    ``ONE\\S\\WE\\T\\ST``), and no target could be given it (``\\`` refused): its ACKs went nowhere."""
    wire = ("EHR\\S\\ONE", "WE\\T\\ST")
    add_target(store, "ehr", "folder", str(tmp_path / "a"), ["hl7"], "admin", senders=["^".join(wire)])
    answer = receive_order(store, _from(order("S1"), *wire), "peer", "i").ack_text
    with store.transaction() as session:
        (item,) = session.scalars(select(OutboxItem))
        receiver = result_receiver(session.scalars(select(Order)).one())
    oru = hl7v2.build_oru(signed_result(), "R-1", receiver)
    for text in (answer, item.payload or "", oru):
        msh = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).msh
        assert (msh.msh_5.to_er7(), msh.msh_6.to_er7()) == wire


def test_application_acks_an_older_version_queued_for_every_target_are_listed_and_never_sent(
    tmp_path: Path,
) -> None:
    """Before migration 0022 an application ACK was queued for every HL7 target; those still pending at the
    upgrade went out to whichever target they were queued for, another EHR's included. They are now listed
    (``misaddressed_acks``), cancelled by the administrator's command, audited, and the deliverer never
    sends an ACK to a target that does not name its addressee (MSH-5^MSH-6). (Python checks: SQLite only.)"""
    store = make_store(tmp_path, "sqlite")
    add_target(store, "ehr-a", "folder", str(tmp_path / "a"), ["hl7"], "admin", senders=[EHR])
    add_target(store, "ehr-b", "folder", str(tmp_path / "b"), ["hl7"], "admin", senders=["CLINIC^WEST"])
    add_target(store, "archive", "folder", str(tmp_path / "c"), ["hl7"], "admin")
    receive_order(store, order("U1"), "peer", "i")
    with store.transaction() as session:  # what the older version queued beside it: one per target
        (right,) = session.scalars(select(OutboxItem))
        for target_id in (2, 3):
            session.add(OutboxItem(target_id=target_id, format=right.format, message_id=f"old-{target_id}",
                                   status="pending", attempts=0, next_attempt_at=right.next_attempt_at,
                                   created_at=right.created_at, payload=right.payload,
                                   inbound_message_id=right.inbound_message_id))
    listed = misaddressed_acks(store, "admin")
    assert [(d.target, d.status) for d in listed] == [("ehr-b", "pending"), ("archive", "pending")]
    assert all("EHR^HOSP" in (d.last_error or "") for d in listed)
    assert [d.status for d in list_deliveries(store)] == ["pending"] * 3  # a listing changes nothing
    assert [d.target for d in misaddressed_acks(store, "admin", cancel=True)] == ["ehr-b", "archive"]
    with store.transaction() as session:  # one more left over, as if after the command ran
        session.add(OutboxItem(target_id=2, format=right.format, message_id="old-late", status="pending",
                               attempts=0, next_attempt_at=right.next_attempt_at, created_at=right.created_at,
                               payload=right.payload, inbound_message_id=right.inbound_message_id))
    sent: list[str] = []
    outcomes = deliver_due(store, "worker", sender=lambda t, item, files: sent.append(t.name) or "ok")
    assert sent == ["ehr-a"] and [o.status for o in outcomes] == ["sent", "cancelled"]
    assert [d.status for d in list_deliveries(store)] == ["cancelled", "cancelled", "cancelled", "sent"]
    with store.transaction() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "interop:cancelled")))
    assert len(entries) == 3 and {json.loads(e.after_json)["sender"] for e in entries} == {"EHR^HOSP"}
    assert misaddressed_acks(store, "admin") == []
    store.close()
