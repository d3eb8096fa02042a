"""``ecgdesk ecg12`` (resting 12-lead ECG) and ``ecgdesk stress`` (exercise test): thin handlers.

Exercise recordings to try ``stress`` on come from ``ecgdesk simulate --exercise``.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from ecgdesk.cli._common import print_json, progress
from ecgdesk.cli.records import add_csv_options, open_from_args
from ecgdesk.errors import InputError, check_not_overwriting

#: What the user says they did, in the words of the service, mapped to the coding engine's components.
RESTING_PARTS = {"tracing": "recording", "interpretation": "interpretation"}
STRESS_PARTS = {"tracing": "recording", "supervision": "supervision", "interpretation": "interpretation"}


def _parts(text: str, allowed: dict[str, str], parameter: str) -> list[str]:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if not names:
        raise InputError(parameter, f"give at least one of {', '.join(allowed)}")
    for name in names:
        if name not in allowed:
            raise InputError(parameter, f"unknown part {name!r}; allowed: {', '.join(allowed)}")
    return sorted({allowed[n] for n in names})


def _facts(service: str, components: list[str], args: argparse.Namespace, day: date | None) -> dict[str, Any]:
    """Service facts for ``ecgdesk code``, checked by the coding engine's own parser."""
    from ecgdesk.coding.facts import facts_from_dict

    data: dict[str, Any] = {
        "service": service, "setting": args.setting, "place_of_service": args.pos,
        "start": (day or date.today()).isoformat(), "components": components,
        "diagnoses": list(args.diagnosis or []), "interpretation_signed": False,
    }
    if args.ordering_npi:
        data["ordering_provider_npi"] = args.ordering_npi
    facts_from_dict(data, source="ecgdesk facts")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from ecgdesk.analysis.io import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def _add_billing(parser: argparse.ArgumentParser, parts: dict[str, str], default: str) -> None:
    parser.add_argument("--components", default=default,
                        help=f"parts this provider did, comma-separated: {', '.join(parts)} "
                             f"(default {default})")
    parser.add_argument("--setting", default="practitioner", choices=["practitioner", "hospital_outpatient"])
    parser.add_argument("--pos", default="11", help="place of service code (default 11, office)")
    parser.add_argument("--diagnosis", action="append", help="ICD-10-CM code (repeatable)")
    parser.add_argument("--ordering-npi", help="the ordering provider's NPI (10 digits)")


def _resting(args: argparse.Namespace) -> int:
    from ecgdesk.analysis.ecg12.resting import analyze_resting, measurements_to_dict, write_outputs
    from ecgdesk.analysis.ecg12.statements import Sex
    from ecgdesk.records import recording_files
    from ecgdesk.reports.context import ReportHeader
    from ecgdesk.reports.ecg12_report import Ecg12ReportContext, render_ecg12_report

    components = _parts(args.components, RESTING_PARTS, "--components")
    recording = open_from_args(args)
    day = recording.start_time.date() if recording.start_time else None
    facts = _facts("resting_ecg", components, args, day)  # checked before any work or file
    out = Path(args.out)
    outputs = [out / n for n in ("waves.csv", "measurements.json", "ecg12-report.pdf", "ecg12-report.png",
                                 "facts.json")]
    check_not_overwriting(outputs, recording_files(recording.path or args.path), "--out")
    sex = Sex(args.sex) if args.sex else None
    result = analyze_resting(recording, sex=sex)
    waves, measurements = write_outputs(result, out)
    patient = recording.patient
    name = " ".join(filter(None, [patient.first_name, patient.last_name]))
    header = ReportHeader(patient_name=args.patient_name or name,
                          patient_id=args.patient_id or patient.patient_id or "",
                          birth_date=patient.birth_date, sex=args.sex or patient.sex or "",
                          device=recording.device or "",
                          recording_start=recording.start_time, indications=tuple(args.diagnosis or ()))
    ctx = Ecg12ReportContext(result, header)
    report = render_ecg12_report(ctx, out)
    facts_path = out / "facts.json"
    _write_json(facts_path, facts)
    summary = measurements_to_dict(result)
    if args.json:
        print_json({**summary, "files": [str(p) for p in (waves, measurements, report.pdf_path, facts_path)]})
        return 0
    qtc = summary["qtc_ms"] or {}
    print(f"{recording.path or args.path}: {summary['rhythm']} ({summary['rhythm_reason']})")
    print(f"  HR {summary['hr_bpm']} bpm  PR {summary['pr_ms']} ms  QRS {summary['qrs_ms']} ms  "
          f"QT {summary['qt_ms']} ms  QTc Bazett {qtc.get('bazett')} ms  axis {summary['qrs_axis_deg']} deg")
    for statement in result.statements[1:]:
        print(f"  - {statement.describe()}")
    for warning in result.warnings:
        print(f"  warning: {warning}")
    print(f"  wrote {measurements}, {waves}, {report.pdf_path}, {facts_path}")
    return 0


def _stress(args: argparse.Namespace) -> int:
    from ecgdesk.analysis.stress.exercise import analyze_stress, stress_to_dict
    from ecgdesk.analysis.stress.protocol import load_protocol
    from ecgdesk.records import recording_files
    from ecgdesk.reports.context import ReportHeader
    from ecgdesk.reports.stress_report import StressReportContext, render_stress_report

    components = _parts(args.components, STRESS_PARTS, "--components")
    protocol = load_protocol(Path(args.protocol))
    recording = open_from_args(args)
    day = recording.start_time.date() if recording.start_time else None
    facts = _facts("stress_test", components, args, day)
    out = Path(args.out)
    outputs = [out / n for n in ("stress.json", "stress-report.pdf", "facts.json")]
    inputs = [*recording_files(recording.path or args.path), Path(args.protocol)]
    check_not_overwriting(outputs, inputs, "--out")
    with progress(len(protocol.stages), "stages", unit="stage") as bar:
        result = analyze_stress(recording, protocol, progress=bar.update)
    out.mkdir(parents=True, exist_ok=True)
    doc = stress_to_dict(result)
    _write_json(out / "stress.json", doc)
    header = ReportHeader(patient_id=recording.patient.patient_id or "", device=recording.device or "",
                          recording_start=recording.start_time, indications=tuple(args.diagnosis or ()))
    context = StressReportContext(result, header)
    report = render_stress_report(context, out)
    _write_json(out / "facts.json", facts)
    if args.json:
        print_json(doc)
        return 0
    minutes, seconds = divmod(int(round(result.exercise_time_s)), 60)
    print(f"{args.path}: exercise {minutes}:{seconds:02d} ({protocol.protocol}), "
          f"{'no' if result.mets is None else f'{result.mets:.1f}'} METs, "
          f"peak HR {result.peak_hr_bpm:.0f} bpm = {result.percent_of_predicted_max:.0f} % of predicted")
    lead = result.max_st_depression_lead or "--"
    print(f"  max ST depression {result.max_st_depression_mm:.1f} mm ({lead}), "
          f"Duke score {result.duke_score:.1f} ({result.duke_risk.value} risk), "
          f"{len(result.arrhythmias)} arrhythmia events")
    for warning in result.warnings:  # as `ecgdesk ecg12` prints its own
        print(f"  warning: {warning}")
    print(f"  wrote {out / 'stress.json'}, {report.pdf_path}, {out / 'facts.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    resting = subparsers.add_parser(
        "ecg12", help="analyse a resting 12-lead ECG: measurements, statements, report",
        description="Delineate, measure and interpret a resting ECG; write measurements.json, waves.csv, "
                    "the PDF/PNG report and facts.json into --out.")
    resting.add_argument("path", help="recording (WFDB .hea, EDF, DICOM, HL7 aECG XML, ISHNE, CSV)")
    resting.add_argument("--out", required=True, help="output folder")
    resting.add_argument("--sex", choices=["M", "F"],
                         help="patient sex for the QTc limit (default: from the file)")
    resting.add_argument("--patient-name", default="")
    resting.add_argument("--patient-id", default="")
    resting.add_argument("--json", action="store_true", help="print measurements.json to stdout")
    _add_billing(resting, RESTING_PARTS, "tracing,interpretation")
    add_csv_options(resting)
    resting.set_defaults(func=_resting)

    stress = subparsers.add_parser(
        "stress", help="analyse an exercise stress test against its protocol file",
        description="Stage table, ST at J+60/J+80, METs, Duke score and arrhythmias; writes stress.json, "
                    "stress-report.pdf and facts.json into --out.")
    stress.add_argument("path", help="continuous multi-lead recording of the test")
    stress.add_argument("--protocol", required=True, help="protocol JSON (docs/stress.md)")
    stress.add_argument("--out", required=True, help="output folder")
    stress.add_argument("--json", action="store_true", help="print stress.json to stdout")
    _add_billing(stress, STRESS_PARTS, "tracing,supervision,interpretation")
    add_csv_options(stress)
    stress.set_defaults(func=_stress)
