"""``ecgdesk demo``: one study from order to a scrubbed claim, in its own folder and database.

Steps: simulate a multi-day patch recording with events, create the users, patient, order and study,
import, analyze, render the report, interpret and sign as a demo physician, derive the coding facts,
select codes and scrub the claim. Each step is the same workflow function the ``study`` commands call.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np

from ecgdesk.coding import Service, Setting
from ecgdesk.errors import InputError
from ecgdesk.records import Recording, write_recording
from ecgdesk.store import Store, open_store
from ecgdesk.workflow.studies import StudyRequest, create_study, import_recording
from ecgdesk.workflow.users import add_user

MARKER = ".ecgdesk-demo"
DEMO_PHYSICIAN = "dr.demo"
DEMO_TECHNICIAN = "tech.demo"
DEMO_PIN = "2468"
DEMO_NPI = "1234567893"
ORDERING_NPI = "1245319599"

#: Called with (step name, message) as the demo advances.
Say = Callable[[str, str], object]


@dataclass
class DemoResult:
    out_dir: Path
    study_id: int
    recording_path: Path
    status: str
    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    pdf_path: Path | None = None
    claim_lines: list[str] = field(default_factory=list)
    scrub_findings: list[str] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir``; a folder from an earlier demo (it has the marker file) is emptied first."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists():
        if not (out_dir / MARKER).exists() and any(out_dir.iterdir()):
            raise InputError(
                "out", "exists, is not empty and is not an earlier demo folder; choose another", out_dir
            )
        for path in out_dir.rglob("*"):
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER).write_text("made by ecgdesk demo; deleted by the next demo run\n", encoding="utf-8")
    return out_dir


def synthetic_recording(minutes: float, fs: float = 250.0, seed: int = 7) -> Recording:
    """A plain synthetic sinus-rhythm ECG (Gaussian P-QRS-T): the stand-in while no simulator is there."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * fs)
    rr = np.clip(rng.normal(0.85, 0.05, int(minutes * 60 / 0.6) + 2), 0.5, 1.4)
    beats = np.cumsum(rr)
    beats = beats[beats < n / fs - 1.0]
    t = np.arange(int(0.8 * fs)) / fs - 0.3
    waves = ((0.15, -0.18, 0.025), (1.2, 0.0, 0.012), (-0.25, 0.03, 0.012), (0.3, 0.25, 0.04))
    template = np.zeros_like(t)
    for a, mu, sd in waves:
        template += a * np.exp(-0.5 * ((t - mu) / sd) ** 2)
    signal = 0.05 * rng.standard_normal(n).astype(np.float32)
    for b in (beats * fs).astype(np.int64):
        lo = b - int(0.3 * fs)
        signal[lo : lo + template.size] += template[: max(0, min(template.size, n - lo))]
    return Recording.from_array(
        signal, fs, lead_names=["ECG"], start_time=datetime(2026, 11, 2, 9, 0), record_name="demo"
    )


def _simulate(rec_dir: Path, days: float, say: Say) -> tuple[Path, str]:
    try:
        from ecgdesk.records import simulator  # noqa: F401
        from ecgdesk.records.simulator import simulate  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        say("simulate", "the patch simulator is not installed yet: writing a 10-minute synthetic ECG instead")
        path = write_recording(synthetic_recording(10.0), rec_dir, "wfdb", "demo")
        return path, "10-minute synthetic sinus rhythm (stand-in)"
    raise NotImplementedError  # wired in when the simulator lands


def run_demo(out_dir: Path, days: float = 8.0, say: Say | None = None) -> DemoResult:
    """Run the whole demo in ``out_dir`` (its own database under ``out_dir/home``)."""
    report = say or (lambda step, message: None)
    out_dir = prepare_out_dir(out_dir)
    rec_path, description = _simulate(out_dir / "recording", days, report)
    store = open_store(url=f"sqlite:///{out_dir / 'home' / 'ecgdesk.sqlite'}", home=out_dir / "home")
    try:
        return _flow(store, out_dir, rec_path, description, days, report)
    finally:
        store.close()


def _flow(store: Store, out_dir: Path, rec_path: Path, description: str, days: float, say: Say) -> DemoResult:
    add_user(store, "admin.demo", "admin", DEMO_PIN, "Demo Administrator", actor="demo")
    add_user(store, DEMO_TECHNICIAN, "technician", DEMO_PIN, "Terry Tech, CCT", actor="admin.demo")
    add_user(
        store,
        DEMO_PHYSICIAN,
        "physician",
        DEMO_PIN,
        "Dana Demo, MD",
        npi=DEMO_NPI,
        credentials="MD",
        actor="admin.demo",
    )
    request = StudyRequest(
        patient_id="DEMO-0001",
        name="Doe, Jane",
        birth_date=date(1956, 3, 14),
        sex="F",
        service=Service.AMBULATORY_ECG,
        ordering_npi=ORDERING_NPI,
        indications=("R00.2", "R55"),
        duration_days=days,
        setting=Setting.PRACTITIONER,
        place_of_service="11",
        ordering_name="Oliver Order, MD",
    )
    study_id = create_study(store, request, actor=DEMO_TECHNICIAN)
    say("create", f"study {study_id} created (patient DEMO-0001, ambulatory ECG, {days:g} days ordered)")
    imported = import_recording(store, study_id, rec_path, actor=DEMO_TECHNICIAN)
    say("import", f"recording stored read-only as {imported.sha256[:16]}... ({description})")
    result = DemoResult(out_dir, study_id, imported.path, "recorded", steps=["create", "import"])
    result.skipped = ["analyze", "report", "sign", "code"]
    return result
