"""``ecgdesk billing|claims|remit|denials|ar`` through the real entry point: the whole cycle with the
JSON the issue names, and bad input (broken X12 files, bad set-up, claims not exportable) exiting 2 with
the segment, position and reason, posting nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import add_people, cheap_hashing, coded_study, copy_store
from workflow_builders import ORDERING_NPI, PIN, tiny_record  # noqa: F401

from backends import BACKENDS
from conftest import shared_path
from ecgdesk.cli.main import main
from ecgdesk.store import open_store

SETUP = [
    "billing",
    "setup",
    "--name",
    "Heart Diagnostics IDTF",
    "--npi",
    "1234567893",
    "--tin",
    "123456789",
    "--taxonomy",
    "261QD0000X",
    "--address",
    "100 Main St",
    "--city",
    "Springfield",
    "--state",
    "IL",
    "--zip",
    "627011234",
    "--contact",
    "Billing Office",
    "--phone",
    "2175550100",
    "--submitter-id",
    "ETIN01",
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:  # noqa: F811
    folder = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as patch:
        cheap_hashing(patch)
        store = open_store(url=f"sqlite:///{folder / 'db.sqlite'}", home=folder / "home")
        add_people(store)
        coded_study(store, tiny_record, "P1", billing=False)
        store.close()
    return folder


@pytest.fixture(params=BACKENDS)
def home(
    request: pytest.FixtureRequest, tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    copied = copy_store(template, tmp_path / "copy", request.param)
    url = copied.engine.url.render_as_string(hide_password=False)
    copied.close()
    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path / "copy" / "home"))
    monkeypatch.setenv("ECGDESK_DATABASE_URL", url)
    monkeypatch.setenv("ECGDESK_USER", "biller")
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)
    monkeypatch.delenv("ECGDESK_TOKEN", raising=False)
    return tmp_path


def _json(args: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _set_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SETUP) == 0
    assert (
        main(["billing", "clinician", "add", "--npi", ORDERING_NPI, "--last", "Order", "--first", "Oliver"])
        == 0
    )
    assert (
        main(
            [
                "billing",
                "payer",
                "add",
                "--name",
                "Medicare Part B",
                "--payer-id",
                "12345",
                "--filing-indicator",
                "MB",
                "--rules",
                "medicare-mac",
                "--test",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "billing",
                "coverage",
                "add",
                "--patient-id",
                "P1",
                "--payer",
                "12345",
                "--member-id",
                "1EG4TE5MK73",
                "--address",
                "5 Elm St",
                "--city",
                "Springfield",
                "--state",
                "IL",
                "--zip",
                "62702",
            ]
        )
        == 0
    )
    capsys.readouterr()


def test_the_whole_cycle_with_the_issue_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _set_up(capsys)
    assert main(["claims", "create", "1"]) == 0
    claim_id = capsys.readouterr().out.strip()
    assert claim_id == "ECG0000001"
    exported = _json(["claims", "export", "--out", str(home / "x12")], capsys)
    assert isinstance(exported, dict) and list(exported) == ["files"]
    (file,) = exported["files"]
    assert (
        set(file) == {"path", "payer", "claims"} and file["claims"] == [claim_id] and file["payer"] == "12345"
    )
    sim = _json(
        ["claims", "simulate-payer", file["path"], "--out", str(home / "payer"), "--deny", "93224"], capsys
    )
    assert isinstance(sim, dict)
    acked = _json(["claims", "ack", sim["999"]], capsys)
    assert isinstance(acked, dict) and acked["claims"][0]["status"] == "accepted"
    acked = _json(["claims", "ack", sim["277CA"]], capsys)
    assert isinstance(acked, dict) and acked["claims"][0]["ack"] == "A2"
    posted = _json(["remit", "post", sim["835"]], capsys)
    assert isinstance(posted, dict) and posted["posted"] == 1 and posted["unmatched"] == []
    (claim,) = posted["claims"]
    assert {"claim_id", "status", "paid", "patient_responsibility", "adjustments"} <= set(claim)
    assert claim["status"] == "denied" and claim["paid"] == "0.00"
    assert claim["adjustments"] == [
        {"line": 1, "group": "CO", "carc": "50", "rarc": "N115", "amount": "143.80"}
    ]
    again = _json(["remit", "post", sim["835"]], capsys)
    assert isinstance(again, dict) and again["posted"] == 0
    items = _json(["denials", "list"], capsys)
    assert (
        isinstance(items, list)
        and items[0]["category"] == "necessity"
        and items[0]["next_action"] == "appeal"
    )
    worked = _json(
        ["denials", "work", str(items[0]["id"]), "--action", "appeal", "--note", "LCD met"], capsys
    )
    assert (
        isinstance(worked, dict) and worked["claim_status"] == "appealed" and Path(worked["letter"]).exists()
    )
    aging = _json(["ar", "aging"], capsys)
    assert isinstance(aging, dict) and aging["total"]["0-30"] == "143.80"
    shown = _json(["claims", "show", claim_id], capsys)
    assert isinstance(shown, dict) and shown["summary"]["status"] == "appealed"
    assert [h["action"] for h in shown["history"]][:3] == ["claim:create", "claim:scrub", "claim:export"]
    document = shown["claim"]  # the claim as sent, in the schema family (ecgdesk.claims.schemas)
    assert document["claim_id"] == claim_id and document["total_charge"] == "143.80"
    assert document["lines"][0]["charge"] == "143.80" and document["billing"]["npi"] == "1234567893"
    listed = _json(["claims", "list"], capsys)
    assert isinstance(listed, list) and listed[0]["claim_id"] == claim_id
    assert main(["study", "show", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "billed"
    # the payer's answer again under a new trace with the insured as it corrected them (NM1*74): the plain
    # text of `remit post` and `claims show` say so (a duplicate of the denial: nothing else is booked)
    text = Path(sim["835"]).read_text()
    trace = next(s for s in text.split("~") if s.strip().startswith("TRN*")).strip().split("*")[2]
    text = text.replace(f"TRN*1*{trace}*", "TRN*1*NEWTRACE1*").replace(
        "DTM*232*", "NM1*74*1*DOE*JANET~DTM*232*"
    )
    text = re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) + 1}*", text)
    (home / "again.835").write_text(text)
    assert main(["remit", "post", str(home / "again.835")]) == 0
    assert (
        f"{claim_id}: paid under the insured as the payer corrected it: DOE, JANET" in capsys.readouterr().out
    )
    assert main(["claims", "show", claim_id]) == 0
    assert "remittance NEWTRACE1: paid under the insured as the payer corrected it: DOE, JANET" in (
        capsys.readouterr().out
    )


def test_export_of_a_named_claim_that_is_not_ready_exits_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_up(capsys)
    assert main(["claims", "create", "1"]) == 0
    claim_id = capsys.readouterr().out.strip()
    assert main(["claims", "export", "--out", str(home / "a")]) == 0
    capsys.readouterr()
    assert main(["claims", "export", "--out", str(home / "b"), "--claim", claim_id]) == 2
    err = capsys.readouterr().err
    assert claim_id in err and "'exported'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--address", "PO Box 44"), "post office box"),
        (("--npi", "1234567890"), "fails the NPI check digit"),
        (("--zip", "62701"), "9-digit ZIP+4"),
    ],
)
def test_bad_billing_set_up_exits_2(
    home: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], message: str
) -> None:
    args = list(SETUP)
    args[args.index(change[0]) + 1] = change[1]
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name",
    [
        "managed-care.835",
        "cob-contractural-adjustment.835",
        "medicare-part-a.835",
        "secondary-payment.835",
        "tertiary-payment.835",
    ],
)
def test_failing_835s_exit_2_with_segment_and_post_nothing(
    home: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = shared_path("x12", "linuxforhealth", "835", name)
    assert main(["remit", "post", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "segment " in err and name in err
    assert main(["remit", "unmatched", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.shared_data
def test_broken_imsweb_files_exit_2_naming_segment(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_path("x12", "imsweb")
    for path in sorted(folder.glob("*.txt")):
        command = (
            ["claims", "ack", str(path)]
            if ("999" in path.name or "277" in path.name)
            else ["remit", "post", str(path)]
        )
        code = main(command)
        err = capsys.readouterr().err
        # a valid 999 for a group we never sent; a valid 277CA (its 2200C STC is situational) for claims
        # we never sent
        if path.name in ("x12_999_rejected.txt", "x12_277ca_rejected.txt"):
            assert code == 0, (path.name, err)
            continue
        assert code == 2, path.name
        assert "Traceback" not in err and "segment" in err, (path.name, err)
