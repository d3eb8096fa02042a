"""The demo runs end to end in its own folder and database (15 minutes of recording instead of 8 days)."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_builders import fake_analyzer

from ecgdesk.errors import InputError
from ecgdesk.store import open_store, verify
from ecgdesk.workflow import analysis
from ecgdesk.workflow.demo import MARKER, prepare_out_dir, run_demo


def test_demo_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    again = prepare_out_dir(tmp_path / "demo")  # an earlier demo folder (read-only blobs too) is replaced
    assert sorted(p.name for p in again.iterdir()) == [MARKER]


def test_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError) as info:
        run_demo(tmp_path)
    assert info.value.field == "out" and (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"
