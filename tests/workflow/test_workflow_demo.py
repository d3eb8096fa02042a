"""The demo runs end to end in its own folder and database (15 minutes of recording instead of 8 days)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from workflow_builders import fake_analyzer

from ecgdesk.cli.main import main
from ecgdesk.errors import InputError
from ecgdesk.store import open_store, verify
from ecgdesk.workflow import analysis
from ecgdesk.workflow.demo import DEMO_BILLER, DEMO_PIN, MARKER, prepare_out_dir, run_demo


def test_demo_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(analysis, "default_analyzer", fake_analyzer)
    steps: list[str] = []
    result = run_demo(tmp_path / "demo", days=0.01, say=lambda step, message: steps.append(step))
    assert result.status == "coded" and not result.skipped
    assert result.recording_path.name == "patch.hea" and steps[0] == "simulate"
    assert result.pdf_path is not None and result.pdf_path.read_bytes().startswith(b"%PDF")
    assert result.claim_lines and steps[-2:] == ["code", "billing"]
    store = open_store(
        url=f"sqlite:///{tmp_path / 'demo' / 'home' / 'ecgdesk.sqlite'}", home=tmp_path / "demo" / "home"
    )
    with store.transaction() as session:
        assert verify(session).ok
    store.close()
    _bill_demo_study(tmp_path / "demo", result.study_id, monkeypatch, capsys)
    again = prepare_out_dir(tmp_path / "demo")  # an earlier demo folder (read-only blobs too) is replaced
    assert sorted(p.name for p in again.iterdir()) == [MARKER]


def test_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError) as info:
        run_demo(tmp_path)
    assert info.value.field == "out" and (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"


def _bill_demo_study(
    demo: Path, study_id: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo study is claimed, exported, acknowledged and posted against out of the box, through the
    CLI as the demo biller (the user and the billing set-up the demo makes)."""
    monkeypatch.setenv("ECGDESK_HOME", str(demo / "home"))
    monkeypatch.setenv("ECGDESK_DATABASE_URL", f"sqlite:///{demo / 'home' / 'ecgdesk.sqlite'}")
    monkeypatch.setenv("ECGDESK_USER", DEMO_BILLER)
    monkeypatch.setenv("ECGDESK_PASSWORD", DEMO_PIN)
    monkeypatch.delenv("ECGDESK_TOKEN", raising=False)
    capsys.readouterr()
    assert main(["claims", "create", str(study_id)]) == 0, capsys.readouterr().err
    claim = capsys.readouterr().out.strip()
    assert main(["claims", "export", "--out", str(demo / "x12"), "--json"]) == 0, capsys.readouterr().err
    files = json.loads(capsys.readouterr().out)["files"]
    assert [f["claims"] for f in files] == [[claim]]
    payer = demo / "payer"
    assert main(["claims", "simulate-payer", files[0]["path"], "--out", str(payer)]) == 0
    for ack in ("999-1.x12", "277CA-1.x12"):
        assert main(["claims", "ack", str(payer / ack)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["remit", "post", str(payer / "835-1.x12"), "--json"]) == 0, capsys.readouterr().err
    posted = json.loads(capsys.readouterr().out)
    assert posted["posted"] == 1 and [c["claim_id"] for c in posted["claims"]] == [claim]
    assert posted["claims"][0]["status"] == "paid" and Decimal(posted["claims"][0]["paid"]) > 0
