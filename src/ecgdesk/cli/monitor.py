"""Event monitoring commands: ``monitor enroll|criteria|ingest|queue|review|ack|escalate|reconcile|roster|
show|close|swap|report|daily``. Thin handlers over ``ecgdesk.workflow.monitoring*``; engines imported inside
them."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ecgdesk.cli._common import OVERLAP_REASON_HELP
from ecgdesk.errors import InputError


def _acting(args: argparse.Namespace, action: str) -> tuple[Any, Any]:
    """The store and the authenticated acting user, checked against the permission table for ``action``."""
    from ecgdesk.cli._auth import acting
    from ecgdesk.cli._common import command_store
    from ecgdesk.workflow.permissions import Action

    store = command_store()
    return store, acting(args, store, Action(action))


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a time YYYY-MM-DDTHH:MM, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(value: Any) -> None:
    from ecgdesk.cli._common import print_json

    print_json(value)


def _cmd_enroll(args: argparse.Namespace) -> int:
    from ecgdesk.coding import Service, Setting
    from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll

    store, who = _acting(args, "monitor:enroll")
    info = enroll(
        store,
        EnrolmentRequest(
            patient_id=args.patient_id,
            name=args.name,
            birth_date=args.birth_date,
            sex=args.sex,
            device_serial=args.device,
            service=Service(args.service),
            start=args.start,
            days=args.days,
            ordering_npi=args.ordering_npi,
            indications=tuple(args.indication),
            setting=Setting(args.setting),
            overlap_reason=args.overlap_reason,
            time_zone=args.time_zone,
        ),
        who.actor,
    )
    if args.json:
        _json(asdict(info))
    else:
        print(info.id)
        print(
            f"enrolment {info.id}: study {info.study_id}, device {info.device_serial}, {info.start} to "
            f"{info.end}; criteria: defaults, not yet signed ('monitor criteria {info.id} --sign')",
            file=__import__("sys").stderr,
        )
    return 0


def _cmd_criteria(args: argparse.Namespace) -> int:
    from ecgdesk.monitoring.criteria import default_criteria
    from ecgdesk.workflow.monitoring import current_criteria, get_enrolment, sign_criteria

    store, who = _acting(args, "monitor:criteria-sign" if args.sign else "monitor:criteria-read")
    if args.sign:
        from ecgdesk.cli._auth import signing_password

        if args.file:
            from ecgdesk import jsonfile

            document = jsonfile.read(args.file, "file")
        else:
            document = default_criteria().to_dict()
        signed = sign_criteria(
            store,
            args.enrolment_id,
            document,
            who.principal.username,
            signing_password(args, who),
            args.lower_emergent,
            who.policy,
        )
        print(f"criteria version {signed} signed")
        return 0
    with store.transaction() as session:
        get_enrolment(session, args.enrolment_id)
        criteria, version = current_criteria(session, args.enrolment_id)
    _json({"version": version, "signed": version is not None, **criteria.to_dict()})
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring import collect, ingest_file

    store, who = _acting(args, "monitor:ingest")
    paths = collect([Path(p) for p in args.paths])
    if args.message_id and len(paths) != 1:
        raise InputError("message-id", f"a message id names one strip; {len(paths)} were given")
    outcomes = [ingest_file(store, path, args.device, who.actor, args.message_id) for path in paths]
    if args.json:
        _json([asdict(o) for o in outcomes])
    else:
        for o in outcomes:
            detail = o.priority or o.reason
            print(f"{o.status:<9} {o.path}  {detail}{'  [' + o.flag + ']' if o.flag else ''}")
            for warning in o.warnings:
                print(f"warning   {o.path}  {warning}")
    return 2 if any(o.status == "refused" for o in outcomes) else 0


def _cmd_queue(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_queue import list_queue

    store, who = _acting(args, "monitor:queue-read")
    rows = list_queue(store, include_closed=args.all, actor=who.actor)
    if args.json:
        _json([asdict(r) for r in rows])
        return 0
    for r in rows:
        late = " OVERDUE" if r.overdue else ""
        # a routine strip is due the next day: the time alone would read as already past
        due = r.due_at[11:16] if r.due_at[:10] == r.received_at[:10] else r.due_at[:16].replace("T", " ")
        # the patient's clock, its zone named (until 2026-12-07 UTC's, unnamed)
        print(
            f"{r.id:>6}  {r.priority:<12} {r.label or '-':<2} {r.received_at[:19].replace('T', ' ')} "
            f"{r.time_zone}  due {due}{late}  "
            f"{r.patient or r.device}  {r.reason}{'  [' + r.flag + ']' if r.flag else ''}"
        )
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_queue import NotificationRequest, review

    notification = None
    if args.recipient or args.action == "escalated":  # an escalation's tier, channel, outcome: kept too
        notification = NotificationRequest(
            args.recipient or "", args.channel, args.read_back, args.outcome or "", args.acknowledged,
            args.tier,
        )
    store, who = _acting(args, "monitor:review")
    result = review(store, args.item_id, args.action, who.actor, args.note or "", args.rhythm, notification)
    print(
        f"item {result.item_id} closed: {result.action}"
        + (
            f" (notification {result.notification_id} to {result.recipient})"
            if result.notification_id
            else ""
        )
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=__import__("sys").stderr)
    return 0


def _cmd_ack(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_queue import acknowledge

    store, who = _acting(args, "monitor:review")
    done = acknowledge(store, args.notification_id, who.actor, args.outcome or "")
    when = f"{done.acknowledged_at:%Y-%m-%d %H:%M} UTC"
    # the second to record a call-back is told who was first and that their outcome was dropped (until
    # 2026-12-08 neither)
    dropped = ": your outcome was not recorded" if args.outcome else ""
    print(f"notification {done.notification_id} (queue item {done.queue_item_id}) "
          + (f"was already acknowledged at {when} by {done.acknowledged_by}{dropped}" if done.already
             else f"acknowledged at {when}"))
    return 0


def _cmd_escalate(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_escalation import escalate_unacknowledged, stranded
    from ecgdesk.workflow.monitoring_queue import on_call_now

    store, who = _acting(args, "monitor:supervise")
    created = escalate_unacknowledged(store, who.actor)
    print(f"{len(created)} escalation(s)")
    left = stranded(store)
    for notice_id, why in left.items():
        print(f"warning: notification {notice_id}: {why}", file=sys.stderr)
    if left:
        return 1
    if on_call_now(store) is None:
        # late notices stay unescalated (an alarm each in the audit log) until a physician is rostered
        print("warning: no on-call physician in the roster now: late notices cannot be escalated; add one "
              "with 'monitor roster add'", file=sys.stderr)
        return 1
    return 0


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_queue import reconcile

    store, who = _acting(args, "monitor:supervise")
    report = reconcile(store, args.start, args.end, who.actor)
    _json({**asdict(report), "alarm": report.alarm})
    return 1 if report.alarm else 0


def _cmd_roster_add(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_roster import add_shift

    store, who = _acting(args, "monitor:roster")
    shift = add_shift(
        store,
        args.start,
        args.end,
        [t for t in (args.technicians or "").split(",") if t],
        args.on_call,
        who.actor,
    )
    print(shift)
    return 0


def _cmd_coverage(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_roster import coverage

    gaps = coverage(_acting(args, "monitor:supervise")[0], args.start, args.end)
    _json(
        [
            {
                "start": g.start.isoformat(),
                "end": g.end.isoformat(),
                "missing": g.missing,
                "hours": round(g.hours, 2),
            }
            for g in gaps
        ]
    )
    return 1 if gaps else 0


def _cmd_show(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_view import period_view

    store, who = _acting(args, "monitor:period-read")
    view = period_view(store, args.enrolment_id, who.actor)
    if args.json:
        _json(view.to_dict())
        return 0
    stop = f" (stopped early; planned to {view.planned_end})" if view.stopped_early_on else ""
    who_ = f"{view.patient} ({view.patient_id})"
    print(f"enrolment {view.enrolment_id} ({view.status}): {who_}, study {view.study_id}")
    print(f"{view.service}: {view.start} to {view.end}{stop}, days and recorder times in {view.time_zone}")
    for r in view.recorders:
        why = f"  ({r.reason})" if r.reason else ""
        print(f"recorder {r.serial} {r.worn_from} to {r.worn_to}{why}")
    for w in view.swaps:
        print(f"swap {w.at}: {w.old_device} -> {w.new_device} by {w.swapped_by_name}: {w.reason}")
    for c in view.criteria_versions:
        what = "defaults (not signed)"
        if c.version is not None:
            what = f"version {c.version} signed by {c.signer} {c.signed_at}"
        print(f"criteria {what}: in force {c.in_force_from} to {c.in_force_to}")
    s, n = view.strips, view.notifications
    print(
        f"strips {s.received} received ({s.flagged} flagged), {s.reviewed} reviewed, {s.open} open; "
        f"notifications {n.sent} ({n.escalations} escalated, {n.unacknowledged} unacknowledged)"
    )
    for t in view.notices:
        acked = f"acknowledged {t.acknowledged_at} by {t.acknowledged_by}" if t.acknowledged_at else "waiting"
        print(f"notification {t.id} ({t.tier}, item {t.queue_item_id}) to {t.recipient} {t.sent_at} "
              f"by {t.sent_by}: {acked}")
    print(f"billing: {view.billing.summary}")
    return 0


def _cmd_close(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_period import close_period

    store, who = _acting(args, "monitor:enroll")
    closed = close_period(store, args.enrolment_id, who.actor, args.stopped_early)
    _json(asdict(closed))
    return 0


def _cmd_swap(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_devices import swap_device

    store, who = _acting(args, "monitor:device-swap")
    result = swap_device(store, args.enrolment_id, args.device, args.at, args.reason, who.actor)
    if args.json:
        _json(asdict(result))
    else:
        print(
            f"enrolment {result.enrolment_id}: device {result.old_device} replaced by {result.new_device} "
            f"from {result.at} ({result.reason}); {result.old_device} is free"
        )
    for warning in result.warnings:
        print(f"warning: {warning}", file=__import__("sys").stderr)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.reporting import report_study

    store, who = _acting(args, "report:render")
    with store.transaction() as session:
        from ecgdesk.workflow.monitoring import get_enrolment

        study_id = get_enrolment(session, args.enrolment_id).study_id
    info = report_study(store, study_id, who.actor)
    print(f"study {study_id}: end-of-service report version {info.version} at {info.pdf_path}")
    print(
        f"the physician interprets and signs it: 'ecgdesk study interpret {study_id}', "
        f"'ecgdesk study sign {study_id}'; then 'ecgdesk study code {study_id}'",
        file=__import__("sys").stderr,
    )
    return 0


def _cmd_daily(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.monitoring_daily import daily_report, daily_report_pdf

    store, who = _acting(args, "monitor:queue-read")
    if args.out and Path(args.out).suffix.lower() == ".pdf":
        daily_report_pdf(store, args.enrolment_id, args.date, who.actor, Path(args.out))
        print(f"daily report of enrolment {args.enrolment_id} for {args.date} written to {args.out}")
        return 0
    report = daily_report(store, args.enrolment_id, args.date, who.actor)
    text = report.as_json() if args.json else report.text()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"daily report of enrolment {args.enrolment_id} for {args.date} written to {args.out}")
    else:
        print(text, end="")
    return 0


def _add_monitor_commands(commands: Any, user: argparse.ArgumentParser) -> None:
    p = commands.add_parser("enroll", parents=[user], help="enrol a patient on a device for a period")
    p.add_argument("--patient-id", required=True)
    p.add_argument("--name", required=True, help='"Family, Given"')
    p.add_argument("--birth-date", required=True, type=_date)
    p.add_argument("--sex", required=True, choices=["F", "M", "U"])
    p.add_argument("--device", required=True, help="device serial")
    p.add_argument("--service", required=True, choices=["event_monitor", "mobile_telemetry"])
    p.add_argument("--start", required=True, type=_date)
    p.add_argument("--days", type=int, default=30, help="monitoring period, 1-30 days (default 30)")
    p.add_argument("--ordering-npi", required=True)
    p.add_argument("--indication", required=True, nargs="+", help="ICD-10-CM codes")
    p.add_argument("--setting", default="practitioner", choices=["practitioner", "hospital_outpatient"])
    p.add_argument("--overlap-reason", help=OVERLAP_REASON_HELP)
    p.add_argument("--time-zone", help="zone of the recorder's clock (IANA, e.g. Europe/Berlin): WFDB and "
                                       "EDF strips, whose start has no zone, are read in it (default UTC)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_enroll)

    p = commands.add_parser("criteria", parents=[user], help="show, or sign a new version of, the criteria")
    p.add_argument("enrolment_id", type=int)
    p.add_argument("--sign", action="store_true", help="sign a new version (ordering physician)")
    p.add_argument("--file", help="criteria JSON ({'rules': [...]}; default: the default criteria)")
    p.add_argument(
        "--lower-emergent", action="store_true", help="confirm a version that lowers emergent rules"
    )
    p.set_defaults(func=_cmd_criteria)

    p = commands.add_parser("ingest", parents=[user], help="take strips (files or folders) from a device")
    p.add_argument("paths", nargs="+")
    p.add_argument("--device", required=True)
    p.add_argument("--message-id", help="the device's message id (one strip)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_ingest)

    p = commands.add_parser("queue", parents=[user], help="the attended queue, most pressing first")
    p.add_argument("--all", action="store_true", help="closed items too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_queue)

    p = commands.add_parser("review", parents=[user], help="close a queue item with what was done")
    p.add_argument("item_id", type=int)
    p.add_argument(
        "--action", required=True, choices=["reviewed", "notified", "escalated", "patient_contacted"]
    )
    p.add_argument("--note")
    p.add_argument("--rhythm", help="the rhythm as the technician confirms it")
    p.add_argument("--recipient", help="who was called or messaged (notified)")
    p.add_argument("--channel", default="phone", help="phone, sms, fax, email, portal, in_person")
    p.add_argument("--read-back", action="store_true")
    p.add_argument("--acknowledged", action="store_true", help="the recipient acknowledged at once")
    p.add_argument(
        "--tier",
        choices=["emergent", "urgent", "routine"],
        help="the notice's tier as the technician read the strip (default: the item's priority; never lower)",
    )
    p.add_argument("--outcome")
    p.set_defaults(func=_cmd_review)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("monitor", help="event monitoring and telemetry: enrolment, strips, queue")
    commands = parser.add_subparsers(dest="monitor_command", metavar="COMMAND", required=True)
    from ecgdesk.cli._auth import auth_parent

    user = auth_parent()
    _add_monitor_commands(commands, user)

    p = commands.add_parser(
        "show", parents=[user], help="one period: dates, recorders and swaps, criteria, counts, billing"
    )
    p.add_argument("enrolment_id", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_show)

    p = commands.add_parser("close", parents=[user], help="close a period (every strip reviewed first)")
    p.add_argument("enrolment_id", type=int)
    p.add_argument("--stopped-early", type=_date, help="the documented early end of monitoring")
    p.set_defaults(func=_cmd_close)

    p = commands.add_parser(
        "swap", parents=[user], help="replace the patient's recorder within the period (failed, battery)"
    )
    p.add_argument("enrolment_id", type=int)
    p.add_argument("--device", required=True, help="the new recorder's serial")
    p.add_argument("--at", required=True, type=_when, help="when it was put on (YYYY-MM-DDTHH:MM, UTC)")
    p.add_argument("--reason", required=True, help="why the recorder was replaced")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_swap)

    p = commands.add_parser(
        "report", parents=[user], help="render the end-of-service report of a closed period"
    )
    p.add_argument("enrolment_id", type=int)
    p.set_defaults(func=_cmd_report)

    p = commands.add_parser("daily", parents=[user], help="the daily report of one patient (telemetry)")
    p.add_argument("enrolment_id", type=int)
    p.add_argument("--date", required=True, type=_date, help="the day (UTC) the strips were recorded")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="write the report to this file (a PDF, with the event strips, for .pdf)")
    p.set_defaults(func=_cmd_daily)

    p = commands.add_parser("ack", parents=[user], help="a notification was acknowledged")
    p.add_argument("notification_id", type=int)
    p.add_argument("--outcome")
    p.set_defaults(func=_cmd_ack)

    p = commands.add_parser("escalate", parents=[user], help="escalate late unacknowledged emergent notices")
    p.set_defaults(func=_cmd_escalate)

    p = commands.add_parser("reconcile", parents=[user], help="received vs reviewed strips of a shift")
    p.add_argument("--start", required=True, type=_when)
    p.add_argument("--end", required=True, type=_when)
    p.set_defaults(func=_cmd_reconcile)

    p = commands.add_parser("roster", help="who attends the monitoring")
    roster = p.add_subparsers(dest="roster_command", metavar="COMMAND", required=True)
    q = roster.add_parser("add", parents=[user], help="add a shift")
    q.add_argument("--start", required=True, type=_when)
    q.add_argument("--end", required=True, type=_when)
    q.add_argument("--technicians", help="comma list of user names")
    q.add_argument("--on-call", help="the on-call physician")
    q.set_defaults(func=_cmd_roster_add)
    q = roster.add_parser("coverage", parents=[user], help="uncovered stretches between two times")
    q.add_argument("--start", required=True, type=_when)
    q.add_argument("--end", required=True, type=_when)
    q.set_defaults(func=_cmd_coverage)
