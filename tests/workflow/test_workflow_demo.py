"""The demo runs end to end in its own folder and database (15 minutes of recording instead of 8 days)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgdesk.errors import InputError
from ecgdesk.store import open_store, verify
from ecgdesk.workflow import analysis
from ecgdesk.workflow.demo import MARKER, prepare_out_dir, run_demo

pytest.importorskip("ecgdesk.analysis.pipeline")

from workflow_builders import fake_analyzer


def test_demo_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "default_analyzer", fake_analyzer)
    steps: list[str] = []
    result = run_demo(tmp_path / "demo", days=0.01, say=lambda step, message: steps.append(step))
    assert result.status == "coded" and not result.skipped
    assert result.pdf_path is not None and result.pdf_path.read_bytes().startswith(b"%PDF")
    assert result.claim_lines and steps[-1] == "code"
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


def test_simulator_adapter_passes_the_demo_settings(tmp_path: Path) -> None:
    """When the records simulator is installed the demo calls it with the settings its config knows."""
    from dataclasses import dataclass
    from types import SimpleNamespace

    from ecgdesk.workflow.demo import _no_bar, _simulate_with_simulator

    @dataclass
    class SimulationConfig:
        hours: float
        n_leads: int = 1
        fs: float = 500.0
        seed: int = 0

    calls: list[tuple[SimulationConfig, Path]] = []

    def simulate(config: SimulationConfig, out_dir: Path, progress: object = None) -> SimpleNamespace:
        calls.append((config, out_dir))
        return SimpleNamespace(record_path=out_dir / "sim.hea")

    module = SimpleNamespace(SimulationConfig=SimulationConfig, simulate=simulate)
    path, description = _simulate_with_simulator(module, tmp_path, 8.0, _no_bar)
    assert calls == [(SimulationConfig(hours=192.0, n_leads=1, fs=250.0, seed=2468), tmp_path)]
    assert path == tmp_path / "sim.hea" and "records simulator" in description
