"""``ecgdesk monitor ...`` through the real entry point, as the technician, physician and administrator."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from ecgdesk.cli.main import main
from ecgdesk.store import open_store
from ecgdesk.workflow.users import add_user

sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))
from monitor_cli_builders import ORDERING_NPI, enroll_argv
from monitoring_builders import START, Strips, make_strips

PIN = "demo-2468"
ENROLL = enroll_argv("DEV-1", "2026-12-01")


@pytest.fixture(scope="module")
def strips(tmp_path_factory: pytest.TempPathFactory) -> Strips:
    return make_strips(tmp_path_factory.mktemp("monitor-cli"))


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path / "home"))
    for name in ("ECGDESK_DATABASE_URL", "ECGDESK_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    store = open_store()
    add_user(store, "boss", "admin", PIN, actor="setup")
    add_user(store, "tech", "technician", PIN, actor="boss", admin_password=PIN)
    add_user(
        store, "dr.order", "physician", PIN, "Smith, John", npi=ORDERING_NPI, actor="boss", admin_password=PIN
    )
    store.close()
    monkeypatch.setenv("ECGDESK_USER", "tech")
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    return tmp_path / "home"


def test_enroll_sign_ingest_queue_review(strips: Strips, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ENROLL) == 0
    enrolment = capsys.readouterr().out.strip()
    assert main(["monitor", "criteria", enrolment]) == 0
    assert json.loads(capsys.readouterr().out)["signed"] is False
    assert main(["monitor", "criteria", enrolment, "--sign"]) == 2  # a technician may not sign
    capsys.readouterr()
    assert main(["monitor", "criteria", enrolment, "--sign", "--user", "dr.order"]) == 0
    assert "version 1 signed" in capsys.readouterr().out
    assert main(["monitor", "ingest", str(strips.folder), "--device", "DEV-1", "--json"]) == 0
    outcomes = json.loads(capsys.readouterr().out)
    assert sorted(o["status"] for o in outcomes) == ["queued"] * 4
    assert main(["monitor", "ingest", str(strips.normal), "--device", "DEV-1", "--message-id", "x"]) == 0
    assert "duplicate" in capsys.readouterr().out
    assert main(["monitor", "queue", "--json"]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert [q["priority"] for q in queue][:2] == ["urgent", "urgent"]
    first = str(queue[0]["id"])
    assert main(["monitor", "review", first, "--action", "notified"]) == 2
    assert "recipient" in capsys.readouterr().err
    assert (
        main(
            [
                "monitor",
                "review",
                first,
                "--action",
                "notified",
                "--recipient",
                "Dr Smith",
                "--read-back",
                "--outcome",
                "continue",
            ]
        )
        == 0
    )
    assert "closed: notified" in capsys.readouterr().out
    # the period lists the notice (until 2026-12-08 only counts); a second call-back recorded is told who
    # recorded the first and that its outcome was dropped (until 2026-12-08 neither)
    assert main(["monitor", "show", enrolment]) == 0
    assert f"notification 1 (urgent, item {first}) to Dr Smith " in (out := capsys.readouterr().out)
    assert out.count("by tech: waiting") == 1
    assert main(["monitor", "ack", "1", "--outcome", "seen"]) == 0
    assert "acknowledged at" in capsys.readouterr().out
    assert main(["monitor", "ack", "1", "--outcome", "again", "--user", "dr.order"]) == 0
    assert " by tech: your outcome was not recorded" in capsys.readouterr().out
    assert main(["monitor", "queue", "--json"]) == 0
    out = capsys.readouterr().out
    assert len(json.loads(out)) == 3, out
    routine = next(q for q in json.loads(out) if q["priority"] == "routine")
    assert main(["monitor", "queue"]) == 0  # due the next day: the date is shown, not the time alone
    out = capsys.readouterr().out
    assert f"due {routine['due_at'][:16].replace('T', ' ')}" in out
    # the time's zone is named (the enrolment's; none given here: UTC), until 2026-12-07 it was not
    received = routine["received_at"][:19].replace("T", " ")
    assert routine["time_zone"] == "UTC" and f"{received} UTC  due" in out
    day = START.date().isoformat()
    assert main(["monitor", "daily", enrolment, "--date", day, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["received"], report["reviewed"], report["open"]) == (4, 1, 3)
    pdf = Path(os.environ["ECGDESK_HOME"]) / "daily.pdf"
    assert main(["monitor", "daily", enrolment, "--date", day, "--out", str(pdf)]) == 0
    assert "written to" in capsys.readouterr().out
    assert pdf.read_bytes().startswith(b"%PDF") and b"/Type /Page" in pdf.read_bytes()
    assert (
        main(["monitor", "daily", enrolment, "--date", day, "--out", str(pdf.parent / "no" / "d.pdf")]) == 2
    )
    assert "out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # argparse refuses the option: exit 2, naming it
        main(["monitor", "daily", enrolment, "--date", "2026-13-01"])
    assert stopped.value.code == 2 and "--date" in capsys.readouterr().err
    assert main(["monitor", "daily", enrolment, "--date", "2026-11-30"]) == 2  # before the period
    assert "field 'date'" in (err := capsys.readouterr().err) and "outside the monitoring period" in err
    assert main(["monitor", "close", enrolment, "--stopped-early", day]) == 2  # 3 strips not reviewed
    assert "3 strip(s) of this period are not reviewed yet" in capsys.readouterr().err


def test_swap_replaces_the_recorder_within_the_period(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ENROLL) == 0
    enrolment = capsys.readouterr().out.strip()
    swap = ["monitor", "swap", enrolment, "--device", "DEV-2", "--at", "2026-12-02T10:00"]
    swap += ["--reason", "battery"]
    assert main([*swap, "--user", "dr.order"]) == 2  # a physician does not fit recorders
    capsys.readouterr()
    assert main([*swap[:6], "2026-11-20T10:00", *swap[7:]]) == 2
    assert "field 'at'" in (err := capsys.readouterr().err) and "outside the monitoring period" in err
    assert main([*swap, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["old_device"], result["new_device"]) == ("DEV-1", "DEV-2")
    assert result["at"] == "2026-12-02T10:00:00+00:00"
    # DEV-1 is free for the next patient (M1's own second period would complete within 29 days of the first)
    assert main(enroll_argv("DEV-1", "2026-12-03", patient_id="M2")) == 0
    capsys.readouterr()
    # the period with its swap history, as the API and the period page show it
    assert main(["monitor", "show", enrolment]) == 0
    shown = capsys.readouterr().out
    assert "recorder DEV-2 2026-12-02T10:00:00+00:00 to 2026-12-30  (battery)" in shown
    assert "swap 2026-12-02T10:00:00+00:00: DEV-1 -> DEV-2 by tech: battery" in shown
    assert main(["monitor", "show", enrolment, "--json", "--user", "dr.order"]) == 0
    assert json.loads(capsys.readouterr().out)["swaps"][0]["swapped_by"] == "tech"
    assert main(["monitor", "show", "999"]) == 2
    assert "field 'enrolment'" in capsys.readouterr().err

def test_ingest_refuses_what_is_no_strip_and_says_what_it_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # found by the held-out fuzz run: a strip header saying 1 Hz (2.5 h) was taken, exit 0, and its
    # classification used 650 MB; a strip read with a warning was queued without a word
    import numpy as np

    from ecgdesk.records import Lead, open_writer

    with open_writer(tmp_path, "long", "wfdb", 50.0, [Lead("II")]) as writer:
        writer.write(np.zeros((50 * 60 * 31, 1)))
    assert main(["monitor", "ingest", str(tmp_path / "long.hea"), "--device", "DEV-1"]) == 2
    assert "field 'duration': 31 min is not a strip" in capsys.readouterr().out
    with open_writer(tmp_path, "slow", "wfdb", 20.0, [Lead("II")]) as writer:
        writer.write(np.sin(np.arange(600, dtype=np.float64)[:, None] / 5.0))
    assert main(["monitor", "ingest", str(tmp_path / "slow.hea"), "--device", "DEV-1"]) == 0
    assert "warning" in capsys.readouterr().out


def test_bad_input_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ENROLL[:-2], "--ordering-npi", "1234567890", "--indication", "R00.2"]) == 2
    assert "npi" in capsys.readouterr().err.lower()
    assert main([*ENROLL, "--days", "45"]) == 2
    assert "days" in capsys.readouterr().err
    bad = tmp_path / "strip.edf"
    bad.write_bytes(b"not an edf")
    assert main(["monitor", "ingest", str(bad), "--device", "DEV-1"]) == 2
    assert "refused" in capsys.readouterr().out
    assert main(["monitor", "review", "99", "--action", "reviewed"]) == 2
    assert (
        main(
            [
                "monitor",
                "roster",
                "add",
                "--start",
                "2026-12-01T08:00",
                "--end",
                "2026-12-01T20:00",
                "--technicians",
                "tech",
                "--on-call",
                "dr.order",
            ]
        )
        == 2
    )  # the roster is the admin's
    assert (
        main(
            [
                "monitor",
                "roster",
                "add",
                "--start",
                "2026-12-01T08:00",
                "--end",
                "2026-12-01T20:00",
                "--technicians",
                "tech",
                "--on-call",
                "dr.order",
                "--user",
                "boss",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["monitor", "roster", "coverage", "--start", "2026-12-01T00:00", "--end", "2026-12-02T00:00"])
        == 1
    )
    gaps = json.loads(capsys.readouterr().out)
    assert {g["missing"] for g in gaps} == {"technician", "on-call physician"}
    # a second period of M1 completing within 29 days of the first (reference monitoring.md 5, rule 1)
    assert main(ENROLL) == 0
    capsys.readouterr()
    assert main(enroll_argv("DEV-2", "2026-12-10")) == 2
    err = capsys.readouterr().err
    for part in ("overlap", "event_monitor enrolment 1", "2026-12-01 to 2026-12-30", "2027-01-28"):
        assert part in err, err
    reason = ["--overlap-reason", "new syncope, repeat ordered"]
    assert main([*enroll_argv("DEV-2", "2026-12-10"), *reason, "--time-zone", "Mars/Olympus"]) == 2
    assert "time-zone" in capsys.readouterr().err  # the recorder's clock's zone (WFDB/EDF have none)
    assert main([*enroll_argv("DEV-2", "2026-12-10"), *reason, "--time-zone", "Europe/Berlin", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["time_zone"] == "Europe/Berlin"


def test_reading_the_queue_on_the_command_line_is_audited(
    strips: Strips, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import select

    from ecgdesk.store.models import AuditEntry

    assert main(ENROLL) == 0
    assert main(["monitor", "ingest", str(strips.normal), "--device", "DEV-1", "--message-id", "n1"]) == 0
    capsys.readouterr()
    assert main(["monitor", "queue", "--json"]) == 0
    shown = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert main(["monitor", "queue", "--all"]) == 0
    store = open_store()
    with store.transaction() as session:
        reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "read:monitor-queue")).all()
        assert [(r.actor, r.entity_id, json.loads(r.after_json)) for r in reads] == [
            ("tech", "open", {"items": 1, "ids": shown, "offset": 0}),
            ("tech", "all", {"items": 1, "ids": shown, "offset": 0}),
        ]
    store.close()


def test_the_escalation_minutes_are_changed_by_the_administrator_on_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rule 9's N (reference monitoring.md section 5) as an application setting: exit 2 for another role or
    for nonsense, naming the field; the change shows in ``settings``. A sign-in setting the command's
    environment sets is shown as fixed by it and not changed (exit 2 naming the variable)."""
    assert main(["settings", "escalate_emergent_minutes", "5"]) == 2  # a technician
    assert "settings:manage" in capsys.readouterr().err
    for bad in ("0", "soon"):  # every kind of nonsense: the workflow test
        assert main(["settings", "escalate_emergent_minutes", bad, "--user", "boss"]) == 2
        assert "escalate_emergent_minutes" in capsys.readouterr().err
    assert main(["settings", "escalate_emergent_minutes", "5", "--user", "boss"]) == 0
    capsys.readouterr()
    assert main(["settings", "--json", "--user", "boss"]) == 0
    shown = {s["name"]: (s["value"], s["changed_by"]) for s in json.loads(capsys.readouterr().out)}
    assert shown == {"escalate_emergent_minutes": (5, "boss"), "escalate_urgent_minutes": (60, None),
                     "lockout_attempts": (5, None), "lockout_minutes": (15, None), "idle_minutes": (15, None),
                     "session_hours": (12, None), "idle_minutes_technician": (15, None),
                     "idle_minutes_physician": (15, None), "idle_minutes_biller": (15, None),
                     "idle_minutes_admin": (15, None), "late_app_ack_hours": (24, None)}
    monkeypatch.setenv("ECGDESK_IDLE_MINUTES", "12")
    assert main(["settings", "idle_minutes", "20", "--user", "boss"]) == 2
    assert "ECGDESK_IDLE_MINUTES" in capsys.readouterr().err
    assert main(["settings", "--user", "boss"]) == 0
    assert "fixed by ECGDESK_IDLE_MINUTES" in capsys.readouterr().out
    assert main(["settings", "idle_minutes_biller", "5", "--user", "boss", "--json"]) == 0
    assert [(s["value"], s["default"]) for s in json.loads(capsys.readouterr().out)] == [(5, 12)]
    assert main(["settings", "idle_minutes_biller", "default", "--user", "boss", "--json"]) == 0
    assert [(s["value"], s["default"]) for s in json.loads(capsys.readouterr().out)] == [(12, 12)]
