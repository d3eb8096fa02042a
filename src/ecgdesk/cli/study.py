"""Study workflow commands: ``study ...``, ``audit verify``, ``user add`` and ``demo``.

Thin handlers: parse, authenticate the acting user and check the action (:mod:`ecgdesk.cli._auth`), call
an ``ecgdesk.workflow`` function, print. The database is ``$ECGDESK_DATABASE_URL`` (default: SQLite under
``$ECGDESK_HOME``).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ecgdesk.cli import signing, study_distinct
from ecgdesk.cli._auth import Acting, acting, auth_parent, signing_password
from ecgdesk.cli._common import OVERLAP_REASON_HELP, command_store, print_json, progress, read_text_option
from ecgdesk.coding.facts import Service, Setting
from ecgdesk.errors import InputError
from ecgdesk.interop.model import OrderPriority

if TYPE_CHECKING:  # engines are imported inside the commands (a fast ``ecgdesk --help``)
    from ecgdesk.store import Store
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.schemas import StudyDetail


def _store() -> Store:
    return command_store()


def _acting(args: argparse.Namespace, action: Action) -> tuple[Store, Acting]:
    store = _store()
    return store, acting(args, store, action)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


# ------------------------------------------------------------------------------------------- handlers
def _cmd_create(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.studies import StudyRequest, create_study

    request = StudyRequest(
        patient_id=args.patient_id,
        name=args.name,
        birth_date=args.birth_date,
        sex=args.sex,
        service=Service(args.service),
        ordering_npi=args.ordering_npi,
        indications=tuple(args.indication),
        duration_days=args.duration_days,
        setting=Setting(args.setting),
        place_of_service=args.pos,
        ordering_name=args.ordering_name,
        priority=OrderPriority(args.priority),
        overlap_reason=args.overlap_reason,
    )
    store, who = _acting(args, Action.STUDY_CREATE)
    study_id = create_study(store, request, who.actor)
    print(study_id)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from ecgdesk.records import open_recording
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.studies import import_recording

    store, who = _acting(args, Action.RECORDING_IMPORT)
    path = Path(args.path)
    try:
        total = open_recording(path).duration_s  # for the bar of the signal pyramid's build
    except InputError:
        total = 0.0  # import_recording names the problem
    with progress(total, "import") as bar:
        result = import_recording(store, args.study_id, path, who.actor, progress=bar.update)
    state = "already imported" if result.reused else "imported"
    print(f"study {result.study_id}: recording {state} (sha256 {result.sha256}) at {result.path}")
    _print_warnings(list(result.warnings))
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.analysis_jobs import enqueue_analysis
    from ecgdesk.workflow.beat_edits import report_again, was_sent
    from ecgdesk.workflow.ecg_services import analyze_ecg_study, is_ecg_study
    from ecgdesk.workflow.jobs import job_failed, run_chain, run_inline
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.views import show_study

    store, who = _acting(args, Action.STUDY_ANALYZE)
    sent = was_sent(store, args.study_id)  # with the physician: a changed analysis renders the report again
    if is_ecg_study(store, args.study_id):  # resting ECG or stress test: its own engine, seconds long
        ecg = analyze_ecg_study(store, args.study_id, who.actor)
        again = report_again(store, args.study_id, sent, who.actor)
        state = "reused the run with the same inputs" if ecg.reused else "analysed"
        key = (
            ("rhythm", "hr_bpm", "qrs_ms", "qtc_ms")
            if "rhythm" in ecg.summary
            else ("peak_hr_bpm", "mets", "max_st_depression_mm", "duke_score")
        )
        shown = ", ".join(f"{k} {ecg.summary.get(k)}" for k in key)
        print(
            f"study {args.study_id}: {state} (run {ecg.run_id}, {ecg.service.value}); {shown}; "
            f"outputs in {ecg.folder}"
        )
        _print_warnings(ecg.summary.get("warnings", []))
        if again.note():
            print(f"  {again.note()}")
        return 0
    before = show_study(store, args.study_id).reports if sent else []
    sent_version = before[-1].version if before else 0
    # through a job (the same work function a worker runs), here and now unless a worker has it already
    job_id = enqueue_analysis(store, args.study_id, who.actor, again=True)
    with progress(100.0, "analyze", unit="%") as bar:

        def show(fraction: float) -> None:
            bar.n = round(100 * fraction, 1)
            bar.refresh()

        job = run_inline(store, job_id, on_progress=show)
    if job.status == "done" and job.result is not None and job.result.get("next_job"):
        # the sent study's report, rendered again by the job the analysis queued (a worker may have it)
        run_chain(store, int(job.result["next_job"]))
    if job.status != "done" or job.result is None:
        raise job_failed(f"study {args.study_id}: analysis job {job_id} {job.status}: {job.error}", job)
    a = show_study(store, args.study_id).analysis
    assert a is not None
    state = "reused the run with the same inputs" if job.result.get("reused") else "analysed"
    print(
        f"study {args.study_id}: {state} (run {job.result['run_id']}, job {job_id}); {a.total_beats} "
        f"beats, analyzable {a.analyzable_h:.2f} h of {a.wear_h:.2f} h worn; outputs in "
        f"{Path(a.beats_file).parent}"
    )
    _print_warnings(a.warnings)
    if sent:  # its render job rendered the report again if the analysis changed
        view = show_study(store, args.study_id)
        if view.status != "reported":
            print("  the report could not be rendered again: create it with 'study report'")
        elif view.reports and view.reports[-1].version > sent_version:
            print(f"  the report was rendered again as version {view.reports[-1].version} and is back on "
                  "the physician's worklist, marked changed after sending")
    return 0


def _print_warnings(warnings: list[str]) -> None:
    """What the reader had to guess or leave out, as ``study import`` and ``analyze`` print it."""
    for warning in warnings:
        print(f"  warning: {warning}")


def _cmd_edit(args: argparse.Namespace) -> int:
    from ecgdesk.store.enums import EditKind
    from ecgdesk.workflow.beat_edits import edit_and_report
    from ecgdesk.workflow.permissions import Action

    if (args.template is None) == (args.beat is None):
        raise InputError("template/beat", "give exactly one of --template T or --beat I")
    kind, target = (
        (EditKind.TEMPLATE, args.template) if args.template is not None else (EditKind.BEAT, args.beat)
    )
    store, who = _acting(args, Action.BEATS_EDIT)
    done = edit_and_report(store, args.study_id, kind, [target], args.label, who.actor)
    run = done.run
    counts = ", ".join(f"{k} {v}" for k, v in run.findings.summary.beats_by_class.items())
    state = "no change (already so)" if run.reused else f"new run {run.run_id}"
    print(f"study {args.study_id}: {kind.value} {target} -> {args.label}: {state}; beats now {counts}")
    if done.note():
        print(f"  {done.note()}")
    return 0


def _cmd_comment(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.studies import set_technician_comments

    store, who = _acting(args, Action.STUDY_COMMENT)
    set_technician_comments(store, args.study_id, args.text, who.actor)
    print(f"study {args.study_id}: technician comments saved (they appear in the next report version)")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.reporting import report_study

    store, who = _acting(args, Action.REPORT_RENDER)
    info = report_study(store, args.study_id, who.actor)
    state = "unchanged, version" if info.reused else "rendered version"
    print(f"study {args.study_id}: report {state} {info.version}: {info.pdf_path}")
    print(f"content sha256 {info.content_sha256}")
    return 0


def _cmd_interpret(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.reporting import interpret

    text = args.text
    if args.text_file is not None:
        text = read_text_option(args.text_file, "--text-file")
    store, who = _acting(args, Action.STUDY_INTERPRET)
    info = interpret(store, args.study_id, who.principal.username, text)
    print(f"study {args.study_id}: report version {info.version} reviewed by {who.actor}: {info.pdf_path}")
    print(f"content sha256 {info.content_sha256} (this is what 'study sign' will sign)")
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.reporting import sign

    store, who = _acting(args, Action.STUDY_SIGN)
    info = sign(store, args.study_id, who.principal.username, signing_password(args, who), who.policy)
    print(
        f"study {args.study_id}: report version {info.version} signed by {info.printed_name} at "
        f"{info.signed_at.isoformat(timespec='seconds')}: {info.pdf_path}"
    )
    print(f"signed content sha256 {info.content_sha256}")
    return 0


def _cmd_addendum(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.reporting import add_addendum

    store, who = _acting(args, Action.STUDY_ADDENDUM)
    password = signing_password(args, who)
    info = add_addendum(store, args.study_id, who.principal.username, password, args.text, who.policy)
    print(
        f"study {args.study_id}: addendum in report version {info.version}, signed by {info.printed_name}: "
        f"{info.pdf_path}"
    )
    return 0


def _cmd_code(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.billing import claim_to_dict, code_study, facts_to_dict
    from ecgdesk.workflow.permissions import Action

    store, who = _acting(args, Action.STUDY_CODE)
    outcome = code_study(store, args.study_id, who.actor)
    if args.json:
        print_json(
            {
                "facts": facts_to_dict(outcome.facts),
                "result": outcome.result.to_dict(),
                "claim": claim_to_dict(outcome.claim),
                "findings": [f.to_dict() for f in outcome.findings],
            }
        )
        return 0
    facts = outcome.facts
    print(
        f"study {args.study_id}: {facts.recorded_hours} h analyzable, components "
        f"{', '.join(sorted(c.value for c in facts.components))}, signed {facts.interpretation_signed}"
    )
    for line in outcome.claim_lines():
        print(f"  claim line {line}")
    for sentence in outcome.result.explanations:
        print(f"  why: {sentence}")
    for finding in outcome.findings:
        print(f"  {finding.severity.value}: [{finding.rule}] {finding.message}")
    return 0


def _cmd_component(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.studies import record_component

    store, who = _acting(args, Action.COMPONENT_RECORD)
    record_component(store, args.study_id, args.component, args.performer, args.npi, who.actor)
    print(f"study {args.study_id}: {args.component} performed by {args.performer}")
    return 0


def _cmd_bill(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.billing import mark_billed
    from ecgdesk.workflow.permissions import Action

    store, who = _acting(args, Action.STUDY_BILL)
    mark_billed(store, args.study_id, who.actor, args.reference)
    print(f"study {args.study_id}: billed (claim reference {args.reference})")
    return 0


def describe_study(view: StudyDetail) -> str:
    """The text ``study show`` prints."""
    p, o = view.patient, view.order
    lines = [
        f"study {view.id}  status {view.status.value}",
        f"patient     {p.id}  {p.name}  born {p.birth_date.isoformat()}  sex {p.sex}",
        f"order       {o.service}  {o.duration_days or '-'} days  ordering NPI {o.ordering_npi}  "
        f"indications {', '.join(o.indications)}  setting {o.setting} POS {o.place_of_service}  "
        f"priority {o.priority.value}" + (f"  ORDER {o.state.value.upper()}" if o.state.value != "active"
                                          else ""),
    ]
    if view.recording:
        r = view.recording
        lines.append(
            f"recording   {r.format}  {r.fs:g} Hz  {r.n_leads} lead(s)  {r.duration_h} h  "
            f"sha256 {r.sha256[:16]}..."
        )
        lines += [f"  import warning: {text}" for text in r.import_warnings]
    if view.upload:
        u = view.upload
        lines.append(f"upload      {u.state}  {u.progress:.0%}  {u.message}")
    if view.analysis:
        a = view.analysis
        lines.append(
            f"analysis    run {a.run_id}{' (edited)' if a.edited else ''}  {a.algorithm_version}  "
            f"analyzable {a.analyzable_h} h of {a.wear_h} h  beats {a.total_beats}"
        )
    for c in view.components:
        lines.append(
            f"component   {c.component:15} {c.performer}  NPI {c.npi or '-'}  POS {c.place_of_service}"
        )
    for rep in view.reports:
        lines.append(f"report v{rep.version}  {rep.pdf}  content {rep.content_sha256[:16]}...")
    if view.interpretation:
        lines.append(f"interpretation ({view.interpretation.author}): {view.interpretation.text}")
    for s in view.signatures:
        lines.append(
            f"signed      {s.meaning} {s.printed_name} at {s.signed_at.isoformat()}  content "
            f"{s.content_sha256[:16]}..."
        )
    for ad in view.addenda:
        lines.append(f"addendum    {ad.author} at {ad.created_at.isoformat()}: {ad.text}")
    if view.distinct:
        d = view.distinct
        by = f" by {d.marked_by}" if d.marked_by else ""
        at = f" at {d.marked_at.isoformat()}" if d.marked_at else ""
        lines.append(f"distinct    modifier {d.modifier}{by}{at}: {d.reason}")
    if view.coding:
        claim_lines = view.coding.claim.lines
        codes = ", ".join(line.code + "".join(f"-{m}" for m in line.modifiers) for line in claim_lines)
        lines.append(f"claim       {codes}  ({len(view.coding.scrub)} scrubber finding(s))")
    for j in view.jobs or []:
        error = f": {j.error}" if j.error and j.status != "done" else ""
        if j.retry_wait:
            error = f": {j.retry_wait}"
        attempts = f"attempt {j.attempts} of {j.max_attempts}"
        lines.append(f"job         {j.id} {j.kind} {j.status} ({attempts}){error}")
    lines.append(f"signature   {view.signature_state}")
    lines.append(f"audit       {view.audit_rows} row(s) about this study")
    return "\n".join(lines)


def _cmd_show(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.views import show_study

    store, who = _acting(args, Action.STUDY_READ)
    view = show_study(store, args.study_id, who.principal)
    if args.json:
        print_json(view.to_dict())
    else:
        print(describe_study(view))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.worklist import list_studies

    store, who = _acting(args, Action.STUDY_LIST)
    rows = list_studies(store, who.actor)
    if args.json:
        print_json([row.to_dict() for row in rows])
        return 0
    for row in rows:
        urgency = f"  {row.priority.value.upper()}" if row.priority.rank else ""
        if row.order_state.value != "active":  # a withdrawn order is no work, whatever its priority
            urgency = f"  ORDER {row.order_state.value.upper()}"
        print(f"{row.id:5}  {row.status.value:9}  {row.patient_id:12}  {row.patient_name:24}  {row.service}"
              f"{urgency}")
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.audit_chain import check_audit_chain
    from ecgdesk.workflow.permissions import Action

    store, who = _acting(args, Action.AUDIT_VERIFY)
    report = check_audit_chain(store, who.actor)
    if report.problem is not None:
        print(f"audit chain BROKEN after {report.rows} good row(s): {report.problem}")
        return 1
    print(f"audit chain OK: {report.rows} row(s), head {report.head_hash}")
    return 0


def _cmd_audit_log(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.views import audit_page

    store, who = _acting(args, Action.AUDIT_READ)
    found, offset = [], 0
    while True:
        page = audit_page(store, who.actor, args.study, offset, 500)
        found.extend(page.items)
        offset += len(page.items)
        if not page.items or offset >= page.total:
            break
    if args.json:
        print_json([row.to_dict() for row in found])
        return 0
    for row in found:
        change = json.dumps(row.after, sort_keys=True, default=str)
        print(
            f"{row.seq:6}  {row.at[:19]}  {row.actor:12}  {row.action:24}  {row.entity} {row.entity_id}  "
            f"{change[:80]}"
        )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.demo import DEMO_BILLER, DEMO_PHYSICIAN, DEMO_PIN, DEMO_TECHNICIAN, run_demo

    started = time.perf_counter()

    def say(step: str, message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {step:9} {message}", flush=True)

    result = run_demo(Path(args.out), days=args.days, say=say, bars=lambda desc, total: progress(total, desc))
    print()
    print(f"demo folder     {result.out_dir.resolve()}")
    print(f"study           {result.study_id} (status {result.status})")
    print(f"recording       {result.recording_path}")
    if result.pdf_path is not None:
        print(f"PDF report      {result.pdf_path}")
    for line in result.claim_lines:
        print(f"claim line      {line}")
    for finding in result.scrub_findings:
        print(f"scrubber        {finding}")
    if result.skipped:
        print(f"not yet run     {', '.join(result.skipped)} (parts not available in this build)")
    print(f"total time      {time.perf_counter() - started:.1f} s")
    home = result.out_dir / "home"
    print(f"inspect it with ECGDESK_HOME={home} ecgdesk study show {result.study_id}")
    print(
        f"bill it with    ECGDESK_HOME={home} ECGDESK_USER={DEMO_BILLER} ecgdesk claims create "
        f"{result.study_id}; then claims export, claims simulate-payer, claims ack, remit post "
        "(README: Claims)"
    )
    users = ", ".join(("admin.demo", DEMO_TECHNICIAN, DEMO_PHYSICIAN, DEMO_BILLER))
    print(f"demo users      {users}; password {DEMO_PIN}")
    return 0


# ------------------------------------------------------------------------------------------- parsers
def register(subparsers: argparse._SubParsersAction) -> None:
    study = subparsers.add_parser("study", help="study workflow: create, import, analyze, report, sign, code")
    study_sub = study.add_subparsers(dest="study_command", metavar="STUDY_COMMAND", required=True)
    user_parent = auth_parent()

    create = study_sub.add_parser("create", parents=[user_parent], help="create a patient, order and study")
    create.add_argument("--patient-id", required=True, help="the patient's identifier (MRN)")
    create.add_argument("--name", required=True, help="patient name, e.g. 'Doe, Jane'")
    create.add_argument("--birth-date", required=True, type=_date, help="YYYY-MM-DD")
    create.add_argument("--sex", required=True, choices=["M", "F", "U"])
    create.add_argument("--service", required=True, choices=[s.value for s in Service])
    create.add_argument("--ordering-npi", required=True, help="NPI of the ordering provider")
    create.add_argument("--ordering-name", help="name of the ordering provider")
    create.add_argument("--indication", required=True, action="append", help="ICD-10-CM code (repeatable)")
    create.add_argument("--duration-days", type=float, help="prescribed monitoring days")
    create.add_argument("--setting", default=Setting.PRACTITIONER.value, choices=[s.value for s in Setting])
    create.add_argument("--overlap-reason", help=OVERLAP_REASON_HELP)
    create.add_argument("--pos", help="2-digit place of service (default 11 practitioner, 22 outpatient)")
    create.add_argument("--priority", default=OrderPriority.ROUTINE.value,
                        choices=[p.value for p in OrderPriority],
                        help="how soon the ordering provider wants it (default routine; the worklist puts "
                             "stat, asap and urgent first)")
    create.set_defaults(func=_cmd_create)

    imp = study_sub.add_parser("import", parents=[user_parent], help="store a recording for a study")
    imp.add_argument("study_id", type=int)
    imp.add_argument("path", help="recording file (WFDB .hea, EDF, ISHNE, DICOM, CSV, HL7 aECG)")
    imp.set_defaults(func=_cmd_import)

    analyze = study_sub.add_parser("analyze", parents=[user_parent], help="run the scanning analysis")
    analyze.add_argument("study_id", type=int)
    analyze.set_defaults(func=_cmd_analyze)

    edit = study_sub.add_parser("edit", parents=[user_parent], help="relabel a beat or a whole template")
    edit.add_argument("study_id", type=int)
    edit.add_argument("--template", type=int, help="template id (every beat of it)")
    edit.add_argument("--beat", type=int, help="beat index (0-based, as in beats.csv)")
    edit.add_argument("--label", required=True, help="new AAMI class: N, S, V, F or Q")
    edit.set_defaults(func=_cmd_edit)

    comment = study_sub.add_parser(
        "comment", parents=[user_parent], help="technician comments for the report"
    )
    comment.add_argument("study_id", type=int)
    comment.add_argument("--text", required=True)
    comment.set_defaults(func=_cmd_comment)

    report = study_sub.add_parser(
        "report", parents=[user_parent], help="render the scanning report (PDF, HTML)"
    )
    report.add_argument("study_id", type=int)
    report.set_defaults(func=_cmd_report)

    interp = study_sub.add_parser(
        "interpret", parents=[user_parent], help="physician: write the interpretation and review the report"
    )
    interp.add_argument("study_id", type=int)
    text = interp.add_mutually_exclusive_group()
    text.add_argument("--text", help="interpretation text (omit to review the report as it is)")
    text.add_argument("--text-file", help="read the interpretation from this file")
    interp.set_defaults(func=_cmd_interpret)

    sign_p = study_sub.add_parser(
        "sign", parents=[user_parent], help="physician: sign the reviewed report (password/PIN asked again)"
    )
    sign_p.add_argument("study_id", type=int)
    sign_p.set_defaults(func=_cmd_sign)
    signing.add_study_commands(study_sub, user_parent)  # sign-queue, sign-batch

    addendum = study_sub.add_parser(
        "addendum", parents=[user_parent], help="physician: amend a signed report (new signed version)"
    )
    addendum.add_argument("study_id", type=int)
    addendum.add_argument("--text", required=True)
    addendum.set_defaults(func=_cmd_addendum)

    code = study_sub.add_parser(
        "code", parents=[user_parent], help="derive facts, select codes, scrub the claim"
    )
    code.add_argument("study_id", type=int)
    code.add_argument("--json", action="store_true")
    code.set_defaults(func=_cmd_code)

    component = study_sub.add_parser(
        "component",
        parents=[user_parent],
        help="record who performed a component (supervision, monitoring ...)",
    )
    component.add_argument("study_id", type=int)
    component.add_argument(
        "--component",
        required=True,
        choices=["recording", "scanning", "interpretation", "supervision", "monitoring"],
    )
    component.add_argument("--performer", required=True, help="who performed it")
    component.add_argument("--npi", help="the performer's NPI, if any")
    component.set_defaults(func=_cmd_component)
    study_distinct.register_study_command(study_sub, user_parent)

    bill = study_sub.add_parser("bill", parents=[user_parent], help="record that the claim was submitted")
    bill.add_argument("study_id", type=int)
    bill.add_argument("--reference", required=True, help="claim or batch id it was submitted under")
    bill.set_defaults(func=_cmd_bill)

    show = study_sub.add_parser("show", parents=[user_parent], help="everything about one study")
    show.add_argument("study_id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_cmd_show)

    lst = study_sub.add_parser("list", parents=[user_parent], help="all studies")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_cmd_list)

    audit = subparsers.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
    audit_verify = audit_sub.add_parser(
        "verify", parents=[user_parent], help="check the chain; exit 1 naming the first bad row"
    )
    audit_verify.set_defaults(func=_cmd_audit_verify)
    audit_log = audit_sub.add_parser(
        "log", parents=[user_parent], help="the audit rows (who, what, when, before and after)"
    )
    audit_log.add_argument("--study", type=int, help="only the rows about this study")
    audit_log.add_argument("--json", action="store_true")
    audit_log.set_defaults(func=_cmd_audit_log)

    demo = subparsers.add_parser("demo", help="run one study end to end in ./demo-out with its own database")
    demo.add_argument("--out", default="demo-out", help="demo folder (default ./demo-out; emptied first)")
    demo.add_argument("--days", type=float, default=8.0, help="days of recording to simulate (default 8)")
    demo.set_defaults(func=_cmd_demo)
