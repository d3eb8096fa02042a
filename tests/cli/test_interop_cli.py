"""``ecgdesk interop ...`` through the real entry point: exit codes, ACKs, the folder watcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecgdesk.cli.main import main
from ecgdesk.store import open_store
from ecgdesk.workflow.users import add_user

ORDER = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||MRN1^^^HOSP^MR||Roe^Rita||19560314|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93000^ECG^C4\r"
    "DG1|1||{icd}^Palpitations^I10\r"
)


PIN = "demo-2468"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with an administrator and a technician; commands act as the technician unless told."""
    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path / "home"))
    for name in ("ECGDESK_DATABASE_URL", "ECGDESK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    store = open_store()
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "tech", "technician", PIN, actor="boss", admin_password=PIN)
    add_user(store, "biller", "biller", PIN, actor="boss", admin_password=PIN)
    store.close()
    monkeypatch.setenv("ECGDESK_USER", "tech")
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    return tmp_path / "home"


def test_import_accepts_an_order_and_answers_a_duplicate_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "order.hl7"
    message.write_text(ORDER.format(control="C1", placer="P1", icd="R00.2"))
    assert main(["interop", "import", str(message), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["status"] == "accepted" and first["ack"]["code"] == "AA"
    assert main(["interop", "import", str(message), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "duplicate"
    assert main(["interop", "inbound", "--json"]) == 0
    assert [m["status"] for m in json.loads(capsys.readouterr().out)] == ["accepted"]


def test_bad_order_exits_2_with_the_ack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = tmp_path / "order.hl7"
    message.write_text(ORDER.format(control="C2", placer="P2", icd="NOTACODE"))
    assert main(["interop", "import", str(message)]) == 2
    out = capsys.readouterr().out
    assert "MSA|AE|C2" in out and "ICD-10-CM" in out


def test_a_refused_message_sent_again_is_refused_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # found by the held-out fuzz run: a second empty file was a 'duplicate' of the first, answered AE, exit 0
    for name in ("first.hl7", "again.hl7"):
        (tmp_path / name).write_bytes(b"")
        assert main(["interop", "import", str(tmp_path / name)]) == 2
        assert "MSA|AE|" in capsys.readouterr().out


def test_a_control_id_reused_by_another_message_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # found by the held-out fuzz run: half of an accepted order, with its control id, got the first's AA
    whole, half = tmp_path / "whole.hl7", tmp_path / "half.hl7"
    whole.write_text(ORDER.format(control="C7", placer="P7", icd="R00.2"))
    half.write_text(whole.read_text()[: len(whole.read_text()) // 2])
    assert main(["interop", "import", str(whole)]) == 0
    capsys.readouterr()
    assert main(["interop", "import", str(half)]) == 2
    out = capsys.readouterr().out
    assert "MSA|AE|C7" in out and "MSH-10" in out and "already used by a different message" in out
    assert main(["interop", "import", str(whole)]) == 0  # the same message again: the first answer


@pytest.mark.parametrize(
    "argv",
    [
        ["interop", "import", "/no/such/file.hl7"],
        ["interop", "export", "99", "--as", "hl7", "--out", "x.hl7"],
        ["interop", "target", "add", "t", "--kind", "mllp", "--address", "nohost", "--user", "boss"],
        [
            "interop",
            "target",
            "add",
            "t",
            "--kind",
            "folder",
            "--address",
            "/tmp",
            "--formats",
            "pdf",
            "--user",
            "boss",
        ],
        ["interop", "listen", "--seconds", "0.1"],
    ],
)
def test_bad_input_exits_2_naming_the_field(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "field" in capsys.readouterr().err


def test_watcher_takes_each_file_once_and_files_its_ack(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.hl7").write_text(ORDER.format(control="W1", placer="PW1", icd="R00.2"))
    (inbox / "b.hl7").write_text(ORDER.format(control="W2", placer="PW2", icd="BAD"))
    (inbox / "notes.txt").write_text("not a message")
    assert main(["interop", "listen", "--watch", str(inbox), "--seconds", "0.5", "--poll", "0.1"]) == 0
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.hl7", "a.hl7.ack"]
    assert "MSA|AE|W2" in (inbox / "refused" / "b.hl7.ack").read_text()
    assert (inbox / "notes.txt").exists()


def test_watcher_refuses_a_folder_whose_done_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file named done (or refused) in the watched folder stopped the watcher at its first message
    (FileExistsError out of the loop, the message left unanswered); now it is refused at the start, exit 2."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "refused").write_text("a file, not the folder")
    (inbox / "a.hl7").write_text(ORDER.format(control="W9", placer="PW9", icd="R00.2"))
    assert main(["interop", "listen", "--watch", str(inbox), "--seconds", "0.3", "--poll", "0.1"]) == 2
    assert "'refused' there is a file" in capsys.readouterr().err
    assert (inbox / "a.hl7").exists() and (inbox / "refused").read_text() == "a file, not the folder"


def test_watcher_keeps_each_message_sent_under_the_same_file_name(tmp_path: Path) -> None:
    """An EHR that writes every order as order.hl7 had each one replace the one kept in done/ before, with its
    ACK: the only copy of what it sent (the database keeps a hash)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for control in ("S1", "S2"):
        (inbox / "order.hl7").write_text(ORDER.format(control=control, placer=f"P{control}", icd="R00.2"))
        assert main(["interop", "listen", "--watch", str(inbox), "--seconds", "0.2", "--poll", "0.1"]) == 0
    kept = inbox / "done"
    assert sorted(p.name for p in kept.iterdir()) == ["order.2.hl7", "order.2.hl7.ack", "order.hl7",
                                                      "order.hl7.ack"]
    assert "|S1|" in (kept / "order.hl7").read_text()
    assert "MSA|AA|S2" in (kept / "order.2.hl7.ack").read_text()


def test_outbox_lists_targets_and_deliveries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "interop",
                "target",
                "add",
                "chart",
                "--kind",
                "folder",
                "--address",
                str(tmp_path / "out"),
                "--formats",
                "hl7,fhir",
                "--user",
                "boss",
            ]
        )
        == 0
    )
    assert main(["interop", "target", "senders", "chart", "EHR^HOSP", "--user", "boss"]) == 0
    assert main(["interop", "target", "list", "--json", "--user", "boss"]) == 0
    out = capsys.readouterr().out
    assert "target chart: senders EHR^HOSP\n" in out
    # the senders of a target (whose EHR it is) are an administrator's, checked, named by field when bad
    assert main(["interop", "target", "senders", "chart", "EHR|X", "--user", "boss"]) == 2
    assert main(["interop", "target", "senders", "nosuch", "EHR^HOSP", "--user", "boss"]) == 2
    assert main(["interop", "target", "senders", "chart"]) == 2  # the technician
    err = capsys.readouterr().err
    assert "field 'sender'" in err and "no delivery target 'nosuch'" in err and "is a technician; " in err
    assert json.loads(out[out.index("\n[") :])[0]["senders"] == ["EHR^HOSP"]
    # disabled: nothing is sent to it (there was no command: only the database column)
    assert main(["interop", "target", "disable", "chart", "--user", "boss"]) == 0
    assert main(["interop", "target", "list", "--user", "boss"]) == 0
    assert main(["interop", "target", "enable", "nosuch", "--user", "boss"]) == 2
    assert main(["interop", "target", "enable", "chart"]) == 2  # the technician
    assert main(["interop", "target", "enable", "chart", "--user", "boss"]) == 0
    shown = capsys.readouterr()
    assert "target chart: disabled: nothing is queued for it or sent to it; 0 item(s) waiting" in shown.out
    assert "(disabled)" in shown.out and "target chart: enabled;" in shown.out
    assert "no delivery target 'nosuch'" in shown.err and "is a technician; " in shown.err
    assert main(["interop", "outbox", "--send", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    # the application ACKs an older version queued for every target: listed, cancelled (none here)
    for flag in ("--misaddressed", "--cancel-misaddressed"):
        assert main(["interop", "outbox", flag, "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
    assert main(["interop", "listen", "--deliver", "--seconds", "0.2", "--poll", "0.1"]) == 0
    # an enhanced-mode order from a sender no target names yet: its application ACK goes to the target
    # added for it, and the command says so
    message = tmp_path / "lab.hl7"
    message.write_text(ORDER.format(control="LX1", placer="PLX1", icd="R00.2")
                       .replace("|EHR|HOSP|", "|LAB|X|").replace("|P|2.5.1\r", "|P|2.5.1|||AL|AL\r"))
    assert main(["interop", "import", str(message)]) == 0
    capsys.readouterr()
    assert main(["interop", "target", "add", "lab", "--kind", "folder", "--address", str(tmp_path / "lab"),
                 "--sender", "LAB^X", "--user", "boss"]) == 0
    assert ("queued for it the 1 application ACK(s) to its senders not sendable before "
            "(setting late_app_ack_hours): LX1") in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "user"),
    [
        (["interop", "target", "add", "t", "--kind", "folder", "--address", "/tmp/x"], "tech"),
        (["interop", "import", "x.hl7"], "biller"),
        (["interop", "outbox"], "biller"),
        (["interop", "export", "1", "--as", "hl7", "--out", "x"], "biller"),
    ],
)
def test_roles_are_checked_against_the_permission_table(
    argv: list[str], user: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--user", user]) == 2
    assert f"is a {'biller' if user == 'biller' else 'technician'}; " in capsys.readouterr().err


@pytest.mark.parametrize("words", [["interop", "inbound"], ["interop", "inbound", "--user", "nobody"]])
def test_a_command_closes_the_store_it_opened(words: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether the command succeeds or is refused, its database connections are closed when it ends (left
    to the garbage collector they are a ResourceWarning, and a held backend on PostgreSQL)."""
    from ecgdesk.store import Store

    closed: list[Store] = []
    real_close = Store.close
    monkeypatch.setattr(Store, "close", lambda self: (closed.append(self), real_close(self))[1])
    main(words)
    assert len(closed) == 1


def test_an_order_file_larger_than_any_order_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecgdesk.cli.interop import ORDER_FILE_LIMIT

    message = tmp_path / "order.json"
    with message.open("wb") as handle:  # sparse: the size is what matters, not the bytes
        handle.truncate(ORDER_FILE_LIMIT + 1)
    assert main(["interop", "import", str(message)]) == 2
    assert "larger than any order message" in capsys.readouterr().err


def test_watcher_files_a_message_it_cannot_read_as_refused_with_the_reason(tmp_path: Path) -> None:
    """A file larger than any order stayed in the watched folder forever, looked at again on every poll and
    never answered; now it is moved to refused/ with an AE saying why."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with (inbox / "huge.hl7").open("wb") as handle:
        handle.truncate(17 * 2**20)  # sparse: the size is what is refused
    assert main(["interop", "listen", "--watch", str(inbox), "--seconds", "0.3", "--poll", "0.1"]) == 0
    assert not (inbox / "huge.hl7").exists() and (inbox / "refused" / "huge.hl7").exists()
    ack = (inbox / "refused" / "huge.hl7.ack").read_text()
    assert "MSA|AE|" in ack and "larger than any order message" in ack


def test_watcher_takes_a_batch_file_and_files_the_batch_of_acks(tmp_path: Path) -> None:
    """An EHR's batch export (BHS, messages, BTS) went to refused/ with 'an HL7 v2 message starts with an
    MSH segment'; each of its orders is taken now, and the file's ACK is the batch of their ACKs."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    messages = "".join(ORDER.format(control=f"B{n}", placer=f"PB{n}", icd="R00.2") for n in (1, 2))
    (inbox / "batch.hl7").write_text(f"BHS|^~\\&|EHR|HOSP||||||||B-1\r{messages}BTS|2\r")
    assert main(["interop", "listen", "--watch", str(inbox), "--seconds", "0.5", "--poll", "0.1"]) == 0
    ack = (inbox / "done" / "batch.hl7.ack").read_text()
    assert ack.startswith("BHS|") and "MSA|AA|B1" in ack and "MSA|AA|B2" in ack and "BTS|2" in ack


def test_watcher_takes_a_patient_update_and_a_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ADT^A08 and A40 files went to refused/ (AR, 'not an order'); they are taken like orders now."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "1-order.hl7").write_text(ORDER.format(control="W1", placer="PW1", icd="R00.2"))
    header = "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261207090000||ADT^{}|{}|P|2.5.1\rEVN|{}|20261207090000\r"
    (inbox / "2-update.hl7").write_text(header.format("A08^ADT_A01", "W2", "A08")
                                        + "PID|1||MRN1^^^HOSP^MR||Roe-Smith^Rita||19560314|F\rPV1|1|O\r")
    merge = "PID|1||MRN2^^^HOSP^MR||Roe-Smith^Rita||19560314|F\rMRG|MRN1^^^HOSP^MR\r"
    (inbox / "3-merge.hl7").write_text(header.format("A40^ADT_A39", "W3", "A40") + merge)
    assert main(["interop", "listen", "--watch", str(inbox), "--seconds", "0.5", "--poll", "0.1"]) == 0
    assert sorted(p.name for p in (inbox / "done").glob("*.hl7")) == ["1-order.hl7", "2-update.hl7",
                                                                      "3-merge.hl7"]
    assert "MSA|AA|W3" in (inbox / "done" / "3-merge.hl7.ack").read_text()
    capsys.readouterr()
    assert main(["study", "list", "--json"]) == 0
    assert "MRN2" in capsys.readouterr().out and not (inbox / "refused").exists()


def test_the_inbound_list_is_an_audited_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A held message's reason names the patient as stored and as ordered (name, birth date, sex), so listing
    the inbound messages is a read of patient data: one ``read:inbound`` audit row names who looked (the
    technician or the administrator, ``order:inbound-read``), the status asked for and the messages shown."""
    from sqlalchemy import select

    from ecgdesk.store.models import AuditEntry

    first, other = tmp_path / "first.hl7", tmp_path / "other.hl7"
    first.write_text(ORDER.format(control="C1", placer="P1", icd="R00.2"))
    other.write_text(ORDER.format(control="C2", placer="P2", icd="R00.2").replace("Roe^Rita", "Roe^Rosa"))
    assert main(["interop", "import", str(first)]) == 0
    assert main(["interop", "import", str(other)]) == 2  # held: the patient exists with another name
    ack = capsys.readouterr().out  # the sender's ACK names the field, not the patient on record
    assert "PID-5 name differs from the patient on record" in ack and "Rita" not in ack
    assert main(["interop", "inbound", "--status", "held", "--user", "boss"]) == 0
    listed = capsys.readouterr().out
    assert "held for review" in listed and "Roe, Rita" in listed  # whoever resolves holds sees both sides
    store = open_store()
    try:
        with store.transaction() as session:
            rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "read:inbound")).all()
            reads = [(r.actor, r.entity, json.loads(r.after_json)) for r in rows]
    finally:
        store.close()
    assert reads == [("boss", "inbound", {"status": "held", "rows": 1, "message_ids": ["C2"]})]
