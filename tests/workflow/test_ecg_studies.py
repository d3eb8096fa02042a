"""Resting ECG and stress test studies through the workflow: analysis, report, review, signature, coding."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from workflow_builders import PHYSICIAN_NPI, PIN, SECOND_NPI, assert_pdf_carries_signatures, request

from ecgdesk.coding import Service
from ecgdesk.errors import AuthenticationError, InputError
from ecgdesk.records import open_recording, write_recording
from ecgdesk.records.simulator.exercise import ExerciseConfig, simulate_exercise
from ecgdesk.store import Store
from ecgdesk.store.enums import Role
from ecgdesk.workflow.billing import code_study
from ecgdesk.workflow.ecg_services import analyze_ecg_study, is_ecg_study
from ecgdesk.workflow.permissions import Principal
from ecgdesk.workflow.reporting import SignatureInfo, add_addendum, interpret, report_study, sign
from ecgdesk.workflow.signal import signal_window
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user


@pytest.fixture(scope="module")
def dicom_wfdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pydicom's real 12-lead ECG, stored as a WFDB record (what an ECG cart's export would be)."""
    data = pytest.importorskip("pydicom.data")
    folder = tmp_path_factory.mktemp("ecg12")
    recording = open_recording(Path(data.get_testdata_file("waveform_ecg.dcm")))
    return write_recording(recording, folder, "wfdb", "resting")


@pytest.fixture(scope="module")
def stress_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stress")
    config = ExerciseConfig(
        exercise_s=240, pretest_s=60, recovery_s=120, fs=250.0, st_depression_mm=1.5, seed=11
    )
    out = simulate_exercise(config, folder)
    protocol = json.loads(out.protocol.read_text())
    protocol["supervisor"] = {"name": "Dr. S. Upervisor", "npi": PHYSICIAN_NPI}
    out.protocol.write_text(json.dumps(protocol))
    return out.record


def _physician(store: Store) -> None:
    add_user(
        store, "dr.reader", "physician", PIN, display_name="A. Reader", npi=PHYSICIAN_NPI, credentials="MD"
    )


def test_resting_ecg_study_end_to_end(store: Store, dicom_wfdb: Path):
    _physician(store)
    study_id = create_study(
        store, request(service=Service.RESTING_ECG, duration_days=None, indications=("R00.2",)), "tech"
    )
    import_recording(store, study_id, dicom_wfdb, "tech")
    assert is_ecg_study(store, study_id)
    run = analyze_ecg_study(store, study_id, "tech")
    assert run.summary["rhythm"] in {"sinus_rhythm", "sinus_bradycardia", "sinus_arrhythmia"}
    assert (run.folder / "measurements.json").exists() and (run.folder / "waves.csv").exists()
    assert analyze_ecg_study(store, study_id, "tech").reused  # same inputs: the same run
    # The workstation draws the 12 leads through the signal API: a resting run lists no beats.
    window = signal_window(store, study_id, "V1", 0.0, 2.5, 240, "tech")
    assert window.lead == "V1" and window.beats.mode == "none"
    assert "labels no beats" in (window.beats.note or "")
    report = report_study(store, study_id, "tech")
    assert report.pdf_path.read_bytes().startswith(b"%PDF")
    reviewed = interpret(store, study_id, "dr.reader", "Sinus rhythm. Normal ECG.")
    assert reviewed.version == report.version + 1  # the over-read changed the content
    with pytest.raises(AuthenticationError):
        sign(store, study_id, "dr.reader", "wrong-pin")
    signed = sign(store, study_id, "dr.reader", PIN)
    assert signed.content_sha256 == reviewed.content_sha256
    outcome = code_study(store, study_id, "biller")
    assert outcome.claim_lines() == ["93000"]
    assert not [f for f in outcome.findings if f.severity.value == "error"]
    _addendum_carries_both_signatures(store, study_id, signed)


def _addendum_carries_both_signatures(store: Store, study_id: int, signed: SignatureInfo) -> None:
    """21 CFR 11.50: an addendum version's PDF still shows who interpreted (before, only "Addendum by")."""
    add_user(store, "dr.second", "physician", "1357-1357", display_name="B. Second", npi=SECOND_NPI)
    amended = add_addendum(store, study_id, "dr.second", "1357-1357", "Addendum: lead placement checked.")
    assert amended.version == signed.version + 1
    assert_pdf_carries_signatures(
        amended.pdf_path,
        [
            ("Interpreted by", "A. Reader, MD", signed.version, signed.signed_at),
            ("Addendum by", "B. Second", amended.version, amended.signed_at),
        ],
    )


def test_stress_study_needs_and_uses_its_protocol(store: Store, stress_record: Path, tmp_path: Path):
    _physician(store)
    req = request(service=Service.STRESS_TEST, duration_days=None, indications=("R07.9",), patient_id="P2")
    study_id = create_study(store, req, "tech")
    # Without its protocol file the recording cannot be analysed as a stress test.
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in stress_record.parent.glob("stress.*"):
        if "protocol" not in path.name:
            shutil.copy(path, bare / path.name)
    other = create_study(
        store,
        request(service=Service.STRESS_TEST, duration_days=None, indications=("R07.9",), patient_id="P3"),
        "tech",
    )
    import_recording(store, other, bare / "stress.hea", "tech")
    with pytest.raises(InputError, match="protocol"):
        analyze_ecg_study(store, other, "tech")
    import_recording(store, study_id, stress_record, "tech")
    run = analyze_ecg_study(store, study_id, "tech")
    assert run.summary["ischemic_st_response"] is True
    assert run.summary["max_st_depression_mm"] == pytest.approx(1.5, abs=0.5)
    interpret(store, study_id, "dr.reader", "Positive for ischemia: 1.5 mm horizontal ST depression.")
    signed = sign(store, study_id, "dr.reader", PIN)
    outcome = code_study(store, study_id, "biller")
    # Supervision (from the protocol), tracing (import) and interpretation (signature): the global code.
    assert outcome.claim_lines() == ["93015"]
    _addendum_carries_both_signatures(store, study_id, signed)


def test_resting_ecg_through_the_study_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dicom_wfdb: Path, capsys: pytest.CaptureFixture[str]
):
    from ecgdesk.cli.main import main

    monkeypatch.setenv("ECGDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ECGDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("DR_PIN", PIN)
    monkeypatch.setenv("ECGDESK_PASSWORD", PIN)  # every user below has the same PIN, once their own
    monkeypatch.setenv("FIRST_PIN", "first-2468")  # the one the administrator gives them
    add = ["user", "add", "--password-env", "FIRST_PIN", "--user", "boss"]
    own = ["--password-env", "FIRST_PIN", "--new-password-env", "DR_PIN"]
    steps = [
        ["user", "add", "boss", "--role", "admin", "--password-env", "DR_PIN"],
        [*add, "tech", "--role", "technician"],
        [*add, "biller", "--role", "biller"],
        [
            "user",
            "add",
            "--user",
            "boss",
            "dr.r",
            "--role",
            "physician",
            "--name",
            "A. Reader",
            "--npi",
            PHYSICIAN_NPI,
            "--password-env",
            "FIRST_PIN",
        ],
        *(["user", "change-password", "--user", name, *own] for name in ("tech", "biller", "dr.r")),
        [
            "study",
            "create",
            "--patient-id",
            "M1",
            "--name",
            "Doe, Jane",
            "--birth-date",
            "1960-02-03",
            "--sex",
            "F",
            "--service",
            "resting_ecg",
            "--ordering-npi",
            "1245319599",
            "--indication",
            "R00.2",
            "--user",
            "tech",
        ],
        ["study", "import", "1", str(dicom_wfdb), "--user", "tech"],
        ["study", "analyze", "1", "--user", "tech"],
        ["study", "interpret", "1", "--user", "dr.r", "--text", "Sinus rhythm."],
        ["study", "sign", "1", "--user", "dr.r", "--password-env", "DR_PIN"],
        ["study", "code", "1", "--user", "biller"],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    out = capsys.readouterr().out
    assert "resting_ecg" in out and "rhythm sinus" in out
    assert "signed by A. Reader" in out
    assert "claim line 93000" in out


def test_no_analysis_and_no_rendering_on_view_review_and_sign(
    store: Store, stress_record: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 12, item 8: the result is stored with its run and each report version with its inputs digest,
    so viewing, reviewing and signing never analyse; viewing and reviewing never render either (signing
    renders only the signed copy, from the stored result)."""
    from ecgdesk.workflow import ecg_services, report_files, reporting
    from ecgdesk.workflow.views import show_study

    calls = {"analyze": 0, "render": 0}

    def counted(name: str, function):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(ecg_services, "analyze_stress", counted("analyze", ecg_services.analyze_stress))
    monkeypatch.setattr(reporting, "_render", counted("render", reporting._render))
    _physician(store)
    req = request(service=Service.STRESS_TEST, duration_days=None, indications=("R07.9",), patient_id="P9")
    study_id = create_study(store, req, "tech")
    import_recording(store, study_id, stress_record, "tech")
    analyze_ecg_study(store, study_id, "tech")
    report_study(store, study_id, "tech")
    interpret(store, study_id, "dr.reader", "Positive for ischemia.")
    assert calls == {"analyze": 1, "render": 2}  # the analysis, the report, the report with the text
    show_study(store, study_id, Principal(1, "dr.reader", Role.PHYSICIAN, "A. Reader", "test"))
    report_files.report_file(store, study_id, "dr.reader")
    again = interpret(store, study_id, "dr.reader")  # review again: nothing changed
    assert again.reused and calls == {"analyze": 1, "render": 2}
    signed = sign(store, study_id, "dr.reader", PIN)
    assert calls == {"analyze": 1, "render": 3}  # the signed copy only, drawn from the stored result
    assert signed.content_sha256 == again.content_sha256
    show_study(store, study_id, Principal(2, "biller", Role.BILLER, "Biller", "test"))
    report_files.report_file(store, study_id, "biller")
    assert calls == {"analyze": 1, "render": 3}


def test_stress_study_uses_the_patient_records_age_and_sex(store: Store, stress_record: Path):
    """The demo stress test of a woman born 1969-09-14 printed "Age 55 Sex M" (the protocol file's) and
    took 220 - 55 as her age-predicted maximum: the record's sex and age at the test date are used now,
    and the protocol's disagreement is said in the analysis, the report and the study page."""
    from pypdf import PdfReader

    _physician(store)
    born = date(1969, 9, 14)
    req = request(service=Service.STRESS_TEST, duration_days=None, indications=("R07.9",), patient_id="P9",
                  name="Moreau, Celine", birth_date=born, sex="F")
    study_id = create_study(store, req, "tech")
    import_recording(store, study_id, stress_record, "tech")
    protocol = json.loads(stress_record.with_name("stress.protocol.json").read_text())
    assert protocol["patient"] == {"age": 55, "sex": "M"}  # the stress system's, wrong for this patient
    start = open_recording(stress_record).start_time
    assert start is not None
    age = start.year - born.year - ((start.month, start.day) < (born.month, born.day))
    assert age != 55
    run = analyze_ecg_study(store, study_id, "tech")
    summary = run.summary
    assert summary["age"] == age and summary.get("sex") == "F"
    assert summary["age_predicted_max_hr"] == 220 - age
    percent = 100 * summary["peak_hr_bpm"] / (220 - age)
    assert summary["percent_of_predicted_max"] == pytest.approx(percent, abs=0.1)
    note = "Protocol file says age 55, sex M; the patient record is used"
    assert summary["patient"]["notes"] == [note]
    assert summary["patient"]["age_from"] == summary["patient"]["sex_from"] == "patient record"
    pdf = report_study(store, study_id, "tech").pdf_path
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())
    assert f"Age {age} Sex F" in text and note in text, text[:400]
