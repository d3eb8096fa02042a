"""``ecgdesk demo``: one study from order to a scrubbed claim, in its own folder and database.

Steps: simulate a multi-day patch recording with events, create the users, patient, order and study,
import, analyze, render the report, interpret and sign as a demo physician, derive the coding facts,
select codes and scrub the claim. Each step is the same workflow function the ``study`` commands call.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ecgdesk.analysis.findings import Findings
from ecgdesk.coding import Service, Setting
from ecgdesk.errors import InputError
from ecgdesk.records import Recording
from ecgdesk.store import Store, open_store
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.billing import code_study
from ecgdesk.workflow.claims_demo import demo_billing
from ecgdesk.workflow.reporting import interpret, report_study, sign
from ecgdesk.workflow.studies import StudyRequest, create_study, import_recording
from ecgdesk.workflow.users import add_user
from ecgdesk.workflow.views import show_study

MARKER = ".ecgdesk-demo"
DEMO_PHYSICIAN = "dr.demo"
DEMO_TECHNICIAN = "tech.demo"
DEMO_BILLER = "biller.demo"
DEMO_PIN = "demo-2468"
DEMO_NPI = "1234567893"
ORDERING_NPI = "1245319599"

#: Called with (step name, message) as the demo advances.
Say = Callable[[str, str], object]
#: Makes a progress bar (description, total) whose ``update(n)`` the long steps call.
BarFactory = Callable[[str, float], AbstractContextManager[Any]]


def imported_duration(store: Store, study_id: int) -> float:
    view = show_study(store, study_id)
    return view.recording.duration_h * 3600 if view.recording else 0.0


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
    """A plain synthetic sinus-rhythm ECG (Gaussian P-QRS-T) of a few minutes, for quick workflow tests."""
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


def _simulate(rec_dir: Path, days: float, say: Say, bars: BarFactory) -> tuple[Path, str]:
    """The patch recording, from the records simulator (1 lead, 250 Hz, its default events)."""
    from ecgdesk.records.simulator import SimulationConfig, simulate

    say("simulate", f"{days:g}-day patch recording with the records simulator")
    config = SimulationConfig(days=days, leads=1, fs=250.0, seed=2468, name="patch")
    with bars("simulate", days * 86400.0) as bar:
        result = simulate(config, rec_dir, progress=bar.update)
    return result.record, f"{days:g}-day simulated patch, 1 lead, 250 Hz, with events (records simulator)"


def _no_bar(desc: str, total: float) -> AbstractContextManager[Any]:
    return nullcontext(SimpleNamespace(update=lambda n: None))


def run_demo(
    out_dir: Path, days: float = 8.0, say: Say | None = None, bars: BarFactory | None = None
) -> DemoResult:
    """Run the whole demo in ``out_dir`` (its own database under ``out_dir/home``)."""
    report = say or (lambda step, message: None)
    out_dir = prepare_out_dir(out_dir)
    rec_path, description = _simulate(out_dir / "recording", days, report, bars or _no_bar)
    store = open_store(url=f"sqlite:///{out_dir / 'home' / 'ecgdesk.sqlite'}", home=out_dir / "home")
    try:
        return _flow(store, out_dir, rec_path, description, days, report, bars or _no_bar)
    finally:
        store.close()


def _flow(
    store: Store,
    out_dir: Path,
    rec_path: Path,
    description: str,
    days: float,
    say: Say,
    bars: BarFactory,
) -> DemoResult:
    add_demo_users(store)
    request = demo_request(days)
    study_id = create_study(store, request, actor=DEMO_TECHNICIAN)
    say("create", f"study {study_id} created (patient DEMO-0001, ambulatory ECG, {days:g} days ordered)")
    imported = import_recording(store, study_id, rec_path, actor=DEMO_TECHNICIAN)
    say("import", f"recording stored read-only as {imported.sha256[:16]}... ({description})")
    result = DemoResult(out_dir, study_id, imported.path, "recorded", steps=["create", "import"])
    say("analyze", "scanning analysis with ECG Desk's beat engine")
    with bars("analyze", imported_duration(store, study_id)) as bar:
        run = analyze_study(store, study_id, DEMO_TECHNICIAN, progress=bar.update)
    summary = run.findings.summary
    result.summary = {
        "total_beats": summary.total_beats,
        "analyzable_h": round(summary.analyzable_time_s / 3600, 2),
        "wear_h": round(summary.wear_time_s / 3600, 2),
        "af_burden_pct": summary.af_burden_pct,
        "episodes": len(run.findings.episodes),
    }
    say(
        "analyze",
        f"{summary.total_beats} beats, {summary.analyzable_time_s / 3600:.1f} h analyzable of "
        f"{summary.wear_time_s / 3600:.1f} h worn, AF burden {summary.af_burden_pct:.1f} %, "
        f"{len(run.findings.episodes)} episodes",
    )
    report = report_study(store, study_id, DEMO_TECHNICIAN)
    say("report", f"scanning report version {report.version} rendered")
    reviewed = interpret(store, study_id, DEMO_PHYSICIAN, interpretation_text(run.findings))
    say("review", f"{DEMO_PHYSICIAN} wrote the interpretation and reviewed version {reviewed.version}")
    signed = sign(store, study_id, DEMO_PHYSICIAN, DEMO_PIN)
    result.pdf_path = signed.pdf_path
    say("sign", f"signed by {signed.printed_name} over content {signed.content_sha256[:16]}...")
    outcome = code_study(store, study_id, DEMO_BILLER)
    result.claim_lines = outcome.claim_lines()
    result.scrub_findings = [f"{f.severity.value}: {f.message}" for f in outcome.findings]
    say("code", f"{outcome.facts.recorded_hours or 0:.2f} h recorded -> {', '.join(result.claim_lines)}")
    demo_billing(store, request.patient_id, ORDERING_NPI, "admin.demo")
    say("billing", "demo IDTF, Medicare payer (DEMOMAC) and the patient's coverage set up: claim it next")
    result.steps += ["analyze", "report", "review", "sign", "code", "billing"]
    result.status = "coded"
    return result


def interpretation_text(findings: Findings) -> str:
    """A demo physician's interpretation written from the findings (a real one writes their own)."""
    s = findings.summary
    hr = s.heart_rate
    parts = [
        f"Ambulatory ECG monitoring for {s.wear_time_s / 86400:.1f} days "
        f"({s.analyzable_time_s / 3600:.0f} h analyzable)."
    ]
    if hr.mean_bpm is not None and hr.min is not None and hr.max is not None:
        parts.append(f"Heart rate {hr.min.bpm:.0f}-{hr.max.bpm:.0f} bpm, mean {hr.mean_bpm:.0f} bpm.")
    if s.af_burden_pct > 0:
        parts.append(f"Atrial fibrillation burden {s.af_burden_pct:.1f} %.")
    parts.append(
        f"Ventricular ectopy {s.ectopy.v_burden_pct:.1f} %, supraventricular ectopy "
        f"{s.ectopy.s_burden_pct:.1f} %."
    )
    if s.pauses.longest_s is not None:
        parts.append(f"Longest pause {s.pauses.longest_s:.1f} s.")
    parts.append("Correlate with the patient-triggered events listed. (Demo interpretation.)")
    return " ".join(parts)


#: One demo user per role for ``ecgdesk serve --demo`` (all with the demo password/PIN).
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin.demo", "admin", "Demo Administrator"),
    (DEMO_TECHNICIAN, "technician", "Terry Tech, CCT"),
    (DEMO_PHYSICIAN, "physician", "Dana Demo, MD"),
    (DEMO_BILLER, "biller", "Bill Biller"),
)


def add_demo_users(store: Store) -> None:
    """The demo users, one per role: the administrator first, who then adds the others."""
    admin = DEMO_USERS[0]
    add_user(store, admin[0], admin[1], DEMO_PIN, admin[2], actor="demo")
    for name, role, printed in DEMO_USERS[1:]:
        npi, creds = (DEMO_NPI, "MD") if role == "physician" else (None, None)
        add_user(
            store, name, role, DEMO_PIN, printed, npi=npi, credentials=creds, actor=admin[0],
            admin_password=DEMO_PIN,
        )


def demo_request(days: float) -> StudyRequest:
    """The demo patient's order: an ambulatory ECG of ``days`` days."""
    return StudyRequest(
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


@dataclass(frozen=True)
class ServiceDemo:
    home: Path
    url: str
    created: bool
    study_ids: tuple[int, ...]


def ensure_service_demo(
    home: Path, hours: float = 24.0, say: Say | None = None, leads: int = 1
) -> ServiceDemo:
    """Open (or create once) the demo database of ``ecgdesk serve --demo`` in ``home``: a user per role and
    a demo study analysed and reported, waiting for the physician's interpretation and signature."""
    from ecgdesk.workflow.users import administrator_exists

    report = say or (lambda step, message: None)
    home = Path(home).resolve()
    url = f"sqlite:///{home / 'ecgdesk.sqlite'}"
    store = open_store(url=url, home=home)
    try:
        if administrator_exists(store):
            ids = tuple(row.id for row in study_ids(store))
            return ServiceDemo(home, url, False, ids)
        add_demo_users(store)
        report("simulate", f"{hours:g} h demo recording")
        from ecgdesk.records.simulator import SimulationConfig, simulate

        config = SimulationConfig(days=hours / 24, leads=leads, fs=250.0, seed=2468, name="patch")
        rec = simulate(config, home / "sim")
        request = demo_request(max(1.0, hours / 24))
        study_id = create_study(store, request, actor=DEMO_TECHNICIAN)
        demo_billing(store, request.patient_id, ORDERING_NPI, "admin.demo")  # claimable once signed and coded
        import_recording(store, study_id, rec.record, actor=DEMO_TECHNICIAN)
        report("analyze", f"study {study_id}: scanning analysis")
        analyze_study(store, study_id, DEMO_TECHNICIAN)
        report_study(store, study_id, DEMO_TECHNICIAN)
        shutil.rmtree(home / "sim", ignore_errors=True)
        return ServiceDemo(home, url, True, (study_id,))
    finally:
        store.close()


def study_ids(store: Store) -> list[Any]:
    from ecgdesk.workflow.worklist import list_studies

    return list(list_studies(store))
