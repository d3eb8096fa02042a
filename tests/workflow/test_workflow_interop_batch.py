"""HL7 v2 batch files (FHS/BHS ... BTS/FTS, v2.5.1 2.10.3), as an EHR's order export writes them: each message
handled on its own and answered in a batch of ACKs; a batch cut short refused whole; on SQLite and
PostgreSQL."""

from __future__ import annotations

import hl7
import pytest
from sqlalchemy import func, select

from ecgdesk.store import Store
from ecgdesk.store.models import Study
from ecgdesk.workflow.interop_orders import receive_message

ORM = (
    "MSH|^~\\&|EPIC|MAINHOSP|ECG|CARDIO|20261201083000||ORM^O01|{control}|P|2.3\r"
    "PID|1||{patient}^^^MAINHOSP^MR||Roe^Rita||19560314|F\r"
    "ZPI|1|a site's own segment\r"
    "ORC|NW|{placer}||||||||||1245319599^Welby^Marcus^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93000^ECG^C4\r"
    "DG1|1||{icd}^Palpitations^I10\r"
)
HEADER = (
    "FHS|^~\\&|EPIC|MAINHOSP|ECG|CARDIO|20261201083000||||F-7\r"
    "BHS|^~\\&|EPIC^Epic Systems|MAINHOSP|ECG|CARDIO|20261201083000||||B-7\r"
)


def _batch(count: str = "2") -> str:
    good = ORM.format(control="M1", patient="MRN1", placer="PL-1", icd="R00.2")
    bad = ORM.format(control="M2", patient="MRN2", placer="PL-2", icd="Q99.999")
    return f"{HEADER}{good}{bad}BTS|{count}\rFTS|1\r"


def _studies(store: Store) -> int:
    with store.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Study)) or 0)


def test_a_batch_file_is_taken_message_by_message_and_answered_in_a_batch(store: Store) -> None:
    """A batch file was refused whole with 'an HL7 v2 message starts with an MSH segment' (ERR-2 MSH^1),
    though it holds MSH messages: every order of an EHR's batch export went to the folder's refused/."""
    outcome = receive_message(store, _batch(), "orders.hl7", "interface")
    assert outcome.ack.code == "AE" and "2 message(s), 1 accepted" in outcome.ack.text
    # which message and why, in the answer's text too: it is all an HTTP caller gets (the 422's message);
    # it said only "each one's ACK says why", and over HTTP no ACK comes with a 422
    assert "message 2 (M2): AE " in outcome.ack.text and "'DG1-3'" in outcome.ack.text
    assert "message 1" not in outcome.ack.text
    assert _studies(store) == 1
    answer = hl7.parse_file(outcome.ack_text)  # a batch of ACKs, in the same envelope
    [batch] = list(answer)
    assert str(answer.header[0]) == "FHS" and str(batch.header[12]) == "B-7"  # BHS-12: the batch answered
    assert str(answer.header[12]) == "F-7"  # FHS-12: the file answered (it gave B-7 until 2026-12-08)
    assert str(batch.header[5]) == "EPIC"  # addressed to the sender
    assert str(batch.trailer[1]) == "2" and str(answer.trailer[1]) == "1"
    acks = [(str(m.segment("MSA")[1]), str(m.segment("MSA")[2])) for m in batch]
    assert acks == [("AA", "M1"), ("AE", "M2")]
    assert "DG1^1^3" in str(list(batch)[1].segment("ERR"))
    again = receive_message(store, _batch(), "orders.hl7", "interface")  # the same file again
    [resent] = list(hl7.parse_file(again.ack_text))
    assert all("duplicate" in str(m.segment("MSA")[3]) for m in resent)
    assert _studies(store) == 1


@pytest.mark.parametrize(("text", "field"), [
    (_batch("3"), "BTS^1^1"),  # the trailer counts a message the file does not hold: cut short
    (_batch().replace("BTS|2\rFTS|1\r", ""), "BTS^1"),  # no trailer at all
])
def test_a_batch_cut_short_is_refused_whole(store: Store, text: str, field: str) -> None:
    outcome = receive_message(store, text, "orders.hl7", "interface")
    err = hl7.parse(outcome.ack_text).segment("ERR")
    assert outcome.ack.code == "AE" and str(err[2]) == field and "nothing was taken" in outcome.ack.text
    assert _studies(store) == 0


@pytest.mark.parametrize(("text", "field"), [
    (_batch().replace("||||B-7\r", "||||B-\x007\r"), "BHS^1^11"),  # a NUL was taken, and echoed in BHS-12
    (_batch().replace("|EPIC^Epic Systems|", "|EPIC\x92^Epic Systems|"), "BHS^1^3"),  # a C1 control
    (_batch().replace("FHS|^~\\&|", "FHS|^^\\&|"), "FHS^1^2"),  # encoding characters not distinct
    # python-hl7 failed an assertion on this one: the exception went out of receive_message (HTTP 500, no
    # MLLP answer, the folder watcher stopped)
    ("FHS|^^\\&\r" + _batch().split("\r", 1)[1], "FHS^1^2"),
    (_batch().replace("MSH|^~\\&|EPIC", "MSH|^^\\&|EPIC", 1), "BHS^1"),  # on a message's too
    (_batch().replace(ORM.format(control="M1", patient="MRN1", placer="PL-1", icd="R00.2").split("\r")[0],
                      "MSH|", 1), "BHS^1"),  # an IndexError
])
def test_a_batch_header_is_read_with_the_checks_of_a_message_header(
    store: Store, text: str, field: str
) -> None:
    """The FHS/BHS of a batch were read by python-hl7 alone, without the checks of the message reader:
    control characters were taken (and echoed into the answer's BHS-12)."""
    outcome = receive_message(store, text, "orders.hl7", "interface")
    err = hl7.parse(outcome.ack_text).segment("ERR")
    assert outcome.ack.code == "AE" and str(err[2]) == field and "orders.hl7" in outcome.ack.text
    assert _studies(store) == 0


def test_a_batch_header_with_its_own_delimiters_is_answered_to_its_sender(store: Store) -> None:
    """A BHS with its own delimiters (``BHS*$?!%``): its sender ``EPIC!T!ONE`` (the application EPIC%ONE:
    ``!T!`` is that file's subcomponent character as data, HL7 v2.5.1 2.7.4) was copied as the text
    'EPIC!T!ONE' into the answer's BHS-5, naming another application."""
    message = ORM.format(control="D1", patient="MRN1", placer="PL-1", icd="R00.2")
    text = f"BHS*$?!%*EPIC!T!ONE*MAIN!S!HOSP*ECG*CARDIO*20261201083000****B-9\r{message}BTS*1\r"
    outcome = receive_message(store, text, "orders.hl7", "interface")
    [answer] = list(hl7.parse_file(outcome.ack_text))
    assert outcome.ack.code == "AA" and (str(answer.header[5]), str(answer.header[6])) == (
        "EPIC%ONE", "MAIN$HOSP")
    assert str(answer.header[12]) == "B-9"
