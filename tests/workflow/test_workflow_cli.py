"""``ecgdesk study ...``, ``user add`` and ``audit verify`` through the real entry point."""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from workflow_builders import ORDERING_NPI, PHYSICIAN_NPI, PIN, SECOND_NPI

from ecgdesk.cli.main import main
from ecgdesk.records import write_recording
from ecgdesk.store import open_store
from ecgdesk.workflow.demo import synthetic_recording
from ecgdesk.workflow.users import add_user

CREATE = [
    "study",
    "create",
    "--patient-id",
    "P7",
    "--name",
    "Doe, Jane",
    "--birth-date",
    "1956-03-14",
    "--sex",
    "F",
    "--service",
    "ambulatory_ecg",
    "--ordering-npi",
    ORDERING_NPI,
    "--indication",
    "R00.2",
    "--duration-days",
    "8",
    "--user",
    "tech",
]


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path / "home"))
    for name in ("ECGDESK_DATABASE_URL", "ECGDESK_USER", "ECGDESK_PASSWORD", "ECGDESK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def home(empty_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with an administrator ('boss'), a technician ('tech') and a biller, all with PIN; the
    commands find the password in $ECGDESK_PASSWORD."""
    store = open_store()
    add_user(store, "boss", "admin", PIN, actor="setup")
    for name, role in (("tech", "technician"), ("biller", "biller")):
        add_user(store, name, role, PIN, actor="boss", admin_password=PIN)
    store.close()
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    return empty_home


def test_create_import_show_list(home: Path, tiny_record: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CREATE) == 0
    study_id = capsys.readouterr().out.strip()
    assert study_id == "1"
    assert main(["study", "import", study_id, str(tiny_record), "--user", "tech"]) == 0
    assert "imported (sha256" in capsys.readouterr().out
    assert main(["study", "import", study_id, str(tiny_record), "--user", "tech"]) == 0
    assert "already imported" in capsys.readouterr().out
    assert main(["study", "show", study_id, "--user", "tech"]) == 0
    text = capsys.readouterr().out
    assert "status recorded" in text and "R00.2" in text and "recording   wfdb  250 Hz" in text
    assert main(["study", "show", study_id, "--json", "--user", "biller"]) == 0
    assert json.loads(capsys.readouterr().out)["recording"]["fs"] == 250.0
    assert main(["study", "list", "--user", "tech"]) == 0
    assert "P7" in capsys.readouterr().out
def test_a_stat_order_from_the_command_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``study create --priority stat`` is kept, shown by ``study show`` and flagged by ``study list``; a
    priority outside the four is a usage error (exit 2) naming the option."""
    assert main([*CREATE, "--priority", "stat"]) == 0
    study_id = capsys.readouterr().out.strip()
    assert main(["study", "show", study_id, "--user", "tech"]) == 0
    assert "priority stat" in capsys.readouterr().out
    assert main(["study", "list", "--user", "tech"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("STAT")
    assert main(["study", "list", "--json", "--user", "tech"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["priority"] == "stat"
    with pytest.raises(SystemExit) as info:
        main([*CREATE, "--priority", "soon"])
    assert info.value.code == 2 and "--priority" in capsys.readouterr().err




def test_import_says_what_the_reader_had_to_leave_out(
    home: Path, tiny_record: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt side file never hides the recording, and is never silent either (issue 19)."""
    tiny_record.with_suffix(".evt").write_bytes(b"\xff\xfe not an event file \x00" * 7)
    assert main(CREATE) == 0
    study_id = capsys.readouterr().out.strip()
    assert main(["study", "import", study_id, str(tiny_record), "--user", "tech"]) == 0
    out = capsys.readouterr().out
    assert "imported (sha256" in out
    assert "warning: event file " in out and ".evt ignored" in out


def test_analyze_and_report_carry_the_readers_warnings(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``study analyze`` prints what the reader guessed, as ``study import`` does, and the findings and the
    report keep it (issue 19: a negative gain was analysed without a word)."""
    pytest.importorskip("ecgdesk.analysis.pipeline")
    record = write_recording(synthetic_recording(1.0, seed=5), tmp_path, "wfdb", "neg")
    lines = record.read_text().splitlines()
    fields = lines[1].split()
    fields[2] = "-" + fields[2]
    record.write_text("\n".join([lines[0], " ".join(fields), *lines[2:]]) + "\n")
    assert main(CREATE) == 0
    study_id = capsys.readouterr().out.strip()
    assert main(["study", "import", study_id, str(record), "--user", "tech"]) == 0
    assert "warning: neg.hea: signal 1 has a negative gain" in capsys.readouterr().out
    assert main(["study", "analyze", study_id, "--user", "tech"]) == 0
    out = capsys.readouterr().out
    assert "beats" in out and "warning: neg.hea: signal 1 has a negative gain" in out
    assert main(["study", "show", study_id, "--json", "--user", "tech"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert any("negative gain" in w for w in view["analysis"]["warnings"])
    assert main(["study", "report", study_id, "--user", "tech"]) == 0
    capsys.readouterr()
    assert main(["study", "show", study_id, "--json", "--user", "tech"]) == 0
    html = Path(json.loads(capsys.readouterr().out)["reports"][-1]["html"]).read_text(encoding="utf-8")
    assert "negative gain" in html


def test_bad_input_exits_2_naming_the_field(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = [*CREATE]
    bad[bad.index("R00.2")] = "ZZZ.9"
    assert main(bad) == 2
    err = capsys.readouterr().err
    assert "field 'indication'" in err and "ZZZ.9" in err and "Traceback" not in err
    assert main(["study", "show", "9", "--user", "tech"]) == 2
    assert "no study with id 9" in capsys.readouterr().err
    # the distinct-service mark (study distinct): a biller marks and unmarks, bad input exits 2 naming it
    assert main([*CREATE]) == 0
    study_id = capsys.readouterr().out.strip()
    mark = ["study", "distinct", study_id, "--user", "biller"]
    assert main([*mark, "--modifier", "XU", "--reason", "own order, own report"]) == 0
    assert "modifier XU (own order, own report)" in capsys.readouterr().out
    assert main(["study", "show", study_id, "--user", "tech"]) == 0  # until 2026-12-07 it was not shown
    assert "distinct    modifier XU by biller at " in capsys.readouterr().out
    store = open_store()
    add_user(store, "drno", "physician", PIN, npi="1003000126", actor="boss", admin_password=PIN)
    store.close()
    assert main(["study", "distinct", study_id, "--user", "drno", "--remove"]) == 2  # not their study
    assert f"not study {study_id}'s ordering or interpreting physician" in capsys.readouterr().err
    bad_marks = ((["--modifier", "25", "--reason", "r"], "modifier"), (["--modifier", "XU"], "reason"))
    for extra, field in bad_marks:
        assert main([*mark, *extra]) == 2
        assert f"'{field}'" in capsys.readouterr().err
    assert main([*mark, "--remove"]) == 0 and main([*mark, "--remove"]) == 2
    assert "not marked" in capsys.readouterr().err
    assert main(["study", "distinct", study_id, "--user", "tech", "--remove"]) != 0  # not a technician's


def test_audit_verify_finds_an_edited_and_a_deleted_row(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(CREATE) == 0 and main(CREATE) == 0
    assert main(["audit", "verify", "--user", "boss"]) == 0
    assert "audit chain OK" in capsys.readouterr().out
    assert main(["audit", "log", "--study", "2", "--json", "--user", "boss"]) == 0
    logged = json.loads(capsys.readouterr().out)
    assert [r["action"] for r in logged] == ["study:create"] and logged[0]["after"]["status"] == "ordered"
    assert main(["audit", "log", "--user", "boss"]) == 0
    assert "patient:create" in capsys.readouterr().out
    db = home / "ecgdesk.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("DROP TRIGGER audit_log_no_update")  # an attacker with full rights on the file
        con.execute("DROP TRIGGER audit_log_no_delete")
        (actor,) = con.execute("SELECT actor FROM audit_log WHERE seq = 2").fetchone()
        con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    assert main(["audit", "verify", "--user", "boss"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "seq 2" in out and "edited" in out
    with sqlite3.connect(db) as con:
        con.execute("UPDATE audit_log SET actor = ? WHERE seq = 2", (actor,))
        con.execute("DELETE FROM audit_log WHERE seq = 3")
    assert main(["audit", "verify", "--user", "boss"]) == 1
    out = capsys.readouterr().out
    assert "seq 3" in out and "deleted" in out


def test_user_add_and_password_sources(
    empty_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DR_PIN", PIN)
    assert (
        main(
            [
                "user",
                "add",
                "dr.a",
                "--role",
                "physician",
                "--name",
                "Ana A, MD",
                "--npi",
                PHYSICIAN_NPI,
                "--password-env",
                "DR_PIN",
            ]
        )
        == 0
    )
    assert "user dr.a (physician)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("1357-1357\n"))
    assert main(["user", "add", "biller", "--role", "biller", "--password-stdin"]) == 0
    assert main(["user", "add", "dr.b", "--role", "physician", "--password-env", "NOT_SET_ANYWHERE"]) == 2
    assert "NOT_SET_ANYWHERE is not set" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("1357-1357\n"))
    assert main(["user", "add", "dr.c", "--role", "physician", "--password-stdin"]) == 2
    assert "field 'npi'" in capsys.readouterr().err
    monkeypatch.setenv("ADMIN_PIN", "9753-9753")
    assert main(["user", "add", "boss", "--role", "admin", "--password-env", "ADMIN_PIN"]) == 0
    assert (
        main(
            [
                "user",
                "add",
                "dr.d",
                "--role",
                "physician",
                "--npi",
                SECOND_NPI,
                "--password-env",
                "DR_PIN",
                "--user",
                "boss",
            ]
        )
        == 2
    )
    assert "no password for 'boss'" in capsys.readouterr().err
    assert (
        main(
            [
                "user",
                "add",
                "dr.d",
                "--role",
                "physician",
                "--npi",
                SECOND_NPI,
                "--password-env",
                "DR_PIN",
                "--user",
                "boss",
                "--admin-password-env",
                "ADMIN_PIN",
            ]
        )
        == 0
    )


def test_whole_flow(
    home: Path, tiny_record: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ecgdesk.analysis.pipeline")
    from workflow_builders import fake_analyzer

    from ecgdesk.workflow import analysis

    monkeypatch.setattr(analysis, "default_analyzer", fake_analyzer)
    monkeypatch.setenv("DR_PIN", PIN)
    before = hashlib.sha256(tiny_record.read_bytes()).hexdigest()
    monkeypatch.setenv("DR_FIRST", "first-2468")
    add_dr = ["user", "add", "dr.a", "--role", "physician", "--npi", PHYSICIAN_NPI]
    add_dr += ["--password-env", "DR_FIRST"]
    assert main([*add_dr, "--user", "boss"]) == 0
    assert "they change the password at their first login" in capsys.readouterr().out
    # the administrator chose that password: until dr.a chooses their own, nothing else (exit 2, said why)
    assert main(["study", "list", "--user", "dr.a", "--password-env", "DR_FIRST"]) == 2
    assert "change it first" in capsys.readouterr().err
    change = ["user", "change-password", "--user", "dr.a", "--password-env", "DR_FIRST"]
    assert main([*change, "--new-password-env", "DR_PIN"]) == 0
    assert main(CREATE) == 0
    assert main(["study", "import", "1", str(tiny_record), "--user", "tech"]) == 0
    assert main(["study", "analyze", "1", "--user", "tech"]) == 0
    assert main(["study", "comment", "1", "--text", "Good signal throughout.", "--user", "tech"]) == 0
    assert main(["study", "report", "1", "--user", "tech"]) == 0
    capsys.readouterr()
    # an edit after the report was sent renders it again at once: the study stays with the physician
    assert main(["study", "edit", "1", "--template", "1", "--label", "N", "--user", "tech"]) == 0
    out = capsys.readouterr().out
    assert "V 0" in out and "rendered again as version 2" in out, out
    assert main(["study", "edit", "1", "--label", "N", "--user", "tech"]) == 2
    assert "exactly one of --template" in capsys.readouterr().err
    # a re-analysis (here it makes the first run current again, undoing the edit) renders it again too
    assert main(["study", "analyze", "1", "--user", "tech"]) == 0
    assert "rendered again as version 3" in capsys.readouterr().out
    assert main(["study", "interpret", "1", "--text", "Sinus rhythm.", "--user", "dr.a"]) == 0
    monkeypatch.setenv("WRONG", "0000")
    assert main(["study", "sign", "1", "--user", "dr.a", "--password-env", "WRONG"]) == 2
    assert "wrong user name or password" in capsys.readouterr().err
    assert main(["study", "sign", "1", "--user", "dr.a", "--password-env", "DR_PIN"]) == 0
    capsys.readouterr()
    assert main(["study", "code", "1", "--user", "biller", "--json"]) == 0
    coded = json.loads(capsys.readouterr().out)
    assert coded["claim"]["lines"] and coded["facts"]["recorded_hours"] > 0
    assert main(["study", "show", "1", "--json", "--user", "dr.a", "--password-env", "DR_PIN"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["status"] == "coded" and view["signature_state"] == "valid"
    assert view["coding"] is None  # a study's coding and claim are the billers' (study:billing)
    html = Path(view["reports"][-1]["html"]).read_text(encoding="utf-8")
    assert "Good signal throughout." in html and "Sinus rhythm." in html
    assert main(["study", "show", "1", "--json", "--user", "biller"]) == 0
    assert json.loads(capsys.readouterr().out)["coding"]["facts"]["interpretation_signed"] is True
    assert main(["study", "show", "1", "--user", "biller"]) == 0
    text = capsys.readouterr().out
    assert "status coded" in text and "signature   valid" in text and "claim       932" in text
    assert main(["study", "bill", "1", "--reference", "CLM-0001", "--user", "biller"]) == 0
    assert main(["study", "code", "1", "--user", "biller"]) == 2
    assert "cannot code a study in status 'billed'" in capsys.readouterr().err
    assert main(["audit", "verify", "--user", "boss"]) == 0
    assert hashlib.sha256(tiny_record.read_bytes()).hexdigest() == before


def test_the_cli_authenticates_and_consults_the_permission_table(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No more trusting --user: a password (or token) is needed, and a role is refused what it may not do."""
    assert main(CREATE) == 0
    capsys.readouterr()
    monkeypatch.delenv("ECGDESK_PASSWORD")
    assert main(["study", "show", "1", "--user", "tech"]) == 2
    assert "no password for 'tech'" in capsys.readouterr().err
    monkeypatch.setenv("ECGDESK_PASSWORD", "0000")
    assert main(["study", "show", "1", "--user", "tech"]) == 2
    assert "wrong user name or password" in capsys.readouterr().err
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    assert main(["study", "show", "1"]) == 2
    assert "who is acting" in capsys.readouterr().err
    monkeypatch.setenv("ECGDESK_USER", "tech")
    assert main(["study", "show", "1"]) == 0
    assert main(["study", "sign", "1"]) == 2  # a technician may not sign
    assert "'tech' is a technician; 'study:sign' is for: physician" in capsys.readouterr().err
    assert main(["audit", "log", "--user", "biller"]) == 2
    assert main(["user", "token", "create", "tech", "--name", "holter-2", "--user", "boss"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    monkeypatch.delenv("ECGDESK_PASSWORD")
    monkeypatch.setenv("ECGDESK_TOKEN", token)
    assert main(["study", "list"]) == 0
    assert main(["study", "list", "--user", "biller"]) == 2
    assert "belongs to 'tech'" in capsys.readouterr().err
    monkeypatch.delenv("ECGDESK_TOKEN")
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    assert main(["user", "disable", "tech", "--user", "boss"]) == 0
    assert main(["study", "list", "--user", "tech"]) == 2
    assert "disabled" in capsys.readouterr().err
    assert main(["audit", "log", "--user", "boss", "--json"]) == 0
    actions = [row["action"] for row in json.loads(capsys.readouterr().out)]
    assert actions.count("auth:forbidden") == 2 and "auth:refused" in actions and "read:study" in actions
    assert main(["audit", "verify", "--user", "boss"]) == 0


def test_sign_queue_and_sign_batch(
    home: Path, tiny_record: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``study sign-batch``: one password for several studies; a study not ready is named with the reason
    and left unsigned (exit 1); a wrong password signs nothing (exit 2)."""
    pytest.importorskip("ecgdesk.analysis.pipeline")
    from workflow_builders import fake_analyzer, request

    from ecgdesk.workflow.analysis import analyze_study
    from ecgdesk.workflow.reporting import interpret, report_study
    from ecgdesk.workflow.studies import create_study, import_recording

    store = open_store()
    add_user(store, "dr.a", "physician", PIN, npi=PHYSICIAN_NPI, actor="boss", admin_password=PIN)
    for i in range(3):
        study_id = create_study(store, request(patient_id=f"P{i}"), "tech")
        import_recording(store, study_id, tiny_record, "tech")
        analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
        report_study(store, study_id, "tech")
        interpret(store, study_id, "dr.a", "Sinus rhythm." if i < 2 else None)
    store.close()
    assert main(["study", "sign-queue", "--user", "dr.a"]) == 0
    out = capsys.readouterr().out
    assert "study 1 " in out and "ready" in out and "study 3 " in out and "no interpretation" in out
    assert re.search(r"reviewed \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 ", out), out  # was "17:09", no zone
    assert main(["study", "sign-queue", "--user", "dr.a", "--json"]) == 0
    queued = json.loads(capsys.readouterr().out)
    assert datetime.fromisoformat(queued[0]["reviewed_at"]).utcoffset() == timedelta(0), queued[0]
    monkeypatch.setenv("WRONG", "0000")
    assert main(["study", "sign-batch", "1", "2", "--user", "dr.a", "--password-env", "WRONG"]) == 2
    assert "wrong user name or password" in capsys.readouterr().err
    assert main(["study", "sign-batch", "1", "2", "3", "--user", "dr.a"]) == 1
    out = capsys.readouterr().out
    assert "study 1: report version" in out and "study 2: report version" in out
    assert "study 3: NOT signed: no interpretation" in out and "2 signed, 1 not signed" in out
    assert main(["study", "sign-batch", "1", "--user", "tech"]) == 2  # a technician may not sign
    assert "study:sign" in capsys.readouterr().err


def test_a_user_changes_their_own_password_on_the_command_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``user change-password``: the current password as for any command, the new one from a variable."""
    from ecgdesk.workflow.users import authenticate

    monkeypatch.setenv("NEW_PIN", "123")
    change = ["user", "change-password", "--user", "tech", "--new-password-env", "NEW_PIN"]
    assert main(change) == 2 and "field 'new_password'" in capsys.readouterr().err
    monkeypatch.setenv("NEW_PIN", "97531-new")
    assert main(change) == 0
    assert "user tech: password changed" in capsys.readouterr().out
    assert main(change) == 2  # $ECGDESK_PASSWORD still holds the old one
    assert "wrong user name or password" in capsys.readouterr().err
    store = open_store()
    try:
        assert authenticate(store, "tech", "97531-new").username == "tech"
    finally:
        store.close()
