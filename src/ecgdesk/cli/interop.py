"""Hospital interface commands: ``interop export|import|listen|outbox|target|inbound``.

Thin handlers over ``ecgdesk.workflow.interop_results`` (signed results out) and
``ecgdesk.workflow.interop_orders`` (orders in); engines are imported inside each handler.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ecgdesk.errors import InputError


def _acting(args: argparse.Namespace, action: str, also: str | None = None) -> tuple[Any, str]:
    """The store and the authenticated acting user, checked against the permission table for ``action``
    (and ``also``, for a command that does two things)."""
    from ecgdesk.cli._auth import acting
    from ecgdesk.cli._common import command_store
    from ecgdesk.workflow.permissions import Action, authorize

    store = command_store()
    who = acting(args, store, Action(action))
    if also is not None:
        authorize(store, who.principal, Action(also))
    return store, who.actor


def _print(rows: list[Any], as_json: bool, line: Any) -> None:
    from ecgdesk.cli._common import print_json

    if as_json:
        print_json([asdict(r) for r in rows])
    else:
        for row in rows:
            print(line(row))


def _cmd_export(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_results import export_study

    store, actor = _acting(args, "result:export")
    for path in export_study(store, args.study_id, args.as_, Path(args.out), actor):
        print(path)
    return 0


#: An order is a few kilobytes (with an attached document, a few megabytes); a 61 MB JSON file took 560 MB
#: of memory to parse.
ORDER_FILE_LIMIT = 16 * 2**20


def _read_message(path: Path) -> str:
    if not path.is_file():
        raise InputError("file", "not a regular file", source=path)
    size = path.stat().st_size  # before reading: a huge file is refused without filling the memory
    if size > ORDER_FILE_LIMIT:
        raise InputError("file", f"{size} bytes: larger than any order message "
                                 f"({ORDER_FILE_LIMIT // 2**20} MiB)", source=path)
    data = path.read_bytes()
    from ecgdesk.interop.mllp import decode

    return decode(data)


def _cmd_import(args: argparse.Namespace) -> int:
    from ecgdesk.cli._common import print_json
    from ecgdesk.workflow.interop_orders import receive_message

    store, actor = _acting(args, "order:receive")
    outcome = receive_message(store, _read_message(Path(args.file)), str(args.file), actor)
    if args.json:
        print_json({"status": outcome.status, "study_id": outcome.study_id, "ack": asdict(outcome.ack),
                    "accept": outcome.accept or None})
    else:
        print(outcome.ack_text.replace("\r", "\n"), end="")
    # a duplicate answers as the first one did: a refused message sent again is refused again (exit 2)
    return 0 if outcome.ack.code == "AA" else 2


def _unused_name(folder: Path, path: Path) -> Path:
    """Where ``path`` is kept in ``folder``: its own name, else ``NAME.2.hl7`` ... An EHR that writes each
    order to the same file name replaced the message kept before, and its ACK, with every new one (the
    kept file is the only copy of what was sent: the database keeps its hash)."""
    kept, number = folder / path.name, 1
    while kept.exists() or kept.with_name(f"{kept.name}.ack").exists():
        number += 1
        kept = folder / f"{path.stem}.{number}{path.suffix}"
    return kept


def _watch_once(store: Any, folder: Path, actor: str) -> int:
    """Handle every message file in ``folder``: moved to ``done/`` or ``refused/`` with its ACK beside it."""
    from ecgdesk.interop.hl7v2 import AckResult, build_ack
    from ecgdesk.workflow.interop_orders import receive_message

    handled = 0
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in {".hl7", ".json"}):
        try:
            text = _read_message(path)
        except OSError:
            continue  # gone or unreadable at this instant: looked at again on the next poll
        except InputError as error:  # e.g. larger than any order: it will never be read, so answer it
            ack = AckResult("AE", "", str(error), "102")
            ack_text = build_ack(ack)
        else:
            outcome = receive_message(store, text, str(path), actor)
            ack, ack_text = outcome.ack, outcome.ack_text
        target = folder / ("done" if ack.code == "AA" else "refused")
        target.mkdir(exist_ok=True)
        kept = _unused_name(target, path)
        if ack_text:  # none where an enhanced-mode sender's MSH-15 asks for none
            (target / f"{kept.name}.ack").write_text(ack_text.replace("\r", "\n"), encoding="utf-8")
        os.replace(path, kept)
        handled += 1
    return handled


def _cmd_listen(args: argparse.Namespace) -> int:
    from ecgdesk.interop.mllp import MllpServer
    from ecgdesk.workflow.interop_orders import receive_message

    store, actor = _acting(args, "order:receive", also="delivery:manage" if args.deliver else None)
    watch = Path(args.watch) if args.watch else None
    if watch is not None and not watch.is_dir():
        raise InputError("watch", "not a folder", source=watch)
    for kept in (watch / "done", watch / "refused") if watch is not None else ():
        if kept.exists() and not kept.is_dir():  # else the first message stopped the watcher (mkdir)
            raise InputError("watch", f"'{kept.name}' there is a file; the watcher keeps the messages it "
                                      f"handled in the folders done/ and refused/: move that file away",
                             source=watch)

    def handle(text: str, peer: str) -> str:
        return receive_message(store, text, f"mllp:{peer}", actor).ack_text

    server = MllpServer(args.host, args.port, handle) if args.port is not None else None
    if server is not None:
        server.start_in_thread()
        print(f"listening for HL7 v2 orders (MLLP) on {args.host}:{server.port}", file=sys.stderr)
    if watch is not None:
        print(f"watching {watch} for .hl7 and .json orders", file=sys.stderr)
    if server is None and watch is None and not args.deliver:
        raise InputError("port", "give --port (MLLP), --watch DIR (a folder of messages) and/or --deliver")
    deadline = time.monotonic() + args.seconds if args.seconds else None
    try:
        while deadline is None or time.monotonic() < deadline:
            if watch is not None:
                _watch_once(store, watch, actor)
            if args.deliver:
                from ecgdesk.workflow.interop_results import deliver_due

                deliver_due(store, actor)
            time.sleep(min(args.poll, max(0.0, deadline - time.monotonic())) if deadline else args.poll)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return 0


def _cmd_outbox(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_results import deliver_due, list_deliveries

    store, actor = _acting(args, "delivery:manage")
    if args.misaddressed or args.cancel_misaddressed:
        from ecgdesk.workflow.interop_acks import misaddressed_acks

        # application ACKs an older version queued for every HL7 target: listed, or cancelled (audited)
        rows = misaddressed_acks(store, actor, cancel=args.cancel_misaddressed)
    else:
        if args.retry or args.send:
            deliver_due(store, actor, retry_failed=args.retry)
        rows = list_deliveries(store, args.study)
    _print(
        rows,
        args.json,
        lambda r: (
            f"{r.id:>5}  study {r.study_id or '-':<5} {r.target:<12} {r.format:<6} "
            f"{r.status:<8} attempts {r.attempts}  {r.last_error or r.sent_at or ''}"
        ),
    )
    return 1 if any(r.status == "failed" for r in rows) else 0


def _cmd_target_add(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_results import add_target

    store, actor = _acting(args, "interface:admin")
    added = add_target(
        store,
        args.name,
        args.kind,
        args.address,
        [f.strip() for f in (args.formats or ("fhir" if args.kind == "fhir" else "hl7")).split(",")],
        actor,
        args.max_attempts,
        args.sender,
    )
    info, acks = added.target, added.acks
    print(f"target {info.name}: {info.kind} {info.address} ({', '.join(info.formats)})"
          + (f" for {', '.join(info.senders)}" if info.senders else ""))
    if acks:
        more = f" and {len(acks) - 20} more (interop outbox)" if len(acks) > 20 else ""
        print(f"queued for it the {len(acks)} application ACK(s) to its senders not sendable before "
              f"(setting late_app_ack_hours): {', '.join(acks[:20])}{more}")
    return 0


def _cmd_target_senders(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_targets import set_target_senders

    store, actor = _acting(args, "interface:admin")
    done = set_target_senders(store, args.name, args.senders, actor)
    print(f"target {done.target.name}: senders {', '.join(done.target.senders) or '(none)'}")
    if done.acks:
        more = f" and {len(done.acks) - 20} more (interop outbox)" if len(done.acks) > 20 else ""
        print(f"queued for it the {len(done.acks)} application ACK(s) to these senders not sendable before "
              f"(setting late_app_ack_hours): {', '.join(done.acks[:20])}{more}")
    return 0


def _cmd_target_enable(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_targets import set_target_enabled

    store, actor = _acting(args, "interface:admin")
    done = set_target_enabled(store, args.name, args.target_command == "enable", actor)
    state = "enabled" if done.target.enabled else "disabled: nothing is queued for it or sent to it"
    print(f"target {done.target.name}: {state}; {done.waiting} item(s) waiting for it")
    if done.caught_up:
        shown = ", ".join(f"study {s} v{v}" for s, v in done.caught_up[:20])
        more = f" and {len(done.caught_up) - 20} more (interop outbox)" if len(done.caught_up) > 20 else ""
        print(f"queued for it the {len(done.caught_up)} result(s) signed while it was disabled (the newest "
              f"version of each): {shown}{more}")
    if done.acks:
        more = f" and {len(done.acks) - 20} more (interop outbox)" if len(done.acks) > 20 else ""
        print(f"queued for it the {len(done.acks)} application ACK(s) not sendable before "
              "(setting late_app_ack_hours): "
              f"{', '.join(done.acks[:20])}{more}")
    return 0


def _cmd_target_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_results import list_targets

    _print(
        list_targets(_acting(args, "interface:admin")[0]),
        args.json,
        lambda t: (
            f"{t.name:<16} {t.kind:<7} {t.address:<40} {','.join(t.formats)}"
            f"{'' if t.enabled else '  (disabled)'}"
            f"{'  senders ' + ','.join(t.senders) if t.senders else ''}"
        ),
    )
    return 0


def _cmd_inbound(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.interop_orders import list_inbound

    store, actor = _acting(args, "order:inbound-read")
    _print(
        list_inbound(store, args.status, actor),
        args.json,
        lambda m: (
            f"{m.received_at[:19]}  {m.kind:<4} {m.status:<9} {m.ack_code}  study {m.study_id or '-':<5} "
            f"{m.message_id}  {m.reason}" + (f"\n    {m.patient_now}" if m.patient_now else "")
            + (f"\n    application ACK: {m.app_ack}" if m.app_ack else "")
        ),
    )
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "interop", help="orders in from the EHR, signed results out (HL7, FHIR, DICOM)"
    )
    commands = parser.add_subparsers(dest="interop_command", metavar="COMMAND", required=True)
    from ecgdesk.cli._auth import auth_parent

    user = auth_parent()

    p = commands.add_parser(
        "export", parents=[user], help="write a signed study's result as HL7, FHIR or DICOM"
    )
    p.add_argument("study_id", type=int)
    p.add_argument("--as", dest="as_", required=True, choices=["hl7", "fhir", "dicom"])
    p.add_argument("--out", required=True, help="a file, or an existing folder")
    p.set_defaults(func=_cmd_export)

    p = commands.add_parser(
        "import", parents=[user], help="take one order (HL7 v2 ORM/OMG/OML, FHIR) or patient update (ADT)"
    )
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_import)

    p = commands.add_parser("listen", parents=[user], help="MLLP listener and/or folder watcher for orders")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="MLLP port (0: any free port)")
    p.add_argument("--watch", metavar="DIR", help="a folder whose .hl7/.json files are taken as orders")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between folder scans (default 2)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--deliver", action="store_true", help="also send due signed results at every poll")
    p.set_defaults(func=_cmd_listen)

    p = commands.add_parser("outbox", parents=[user], help="the result deliveries and their state")
    p.add_argument("--send", action="store_true", help="send what is due now")
    p.add_argument("--retry", action="store_true", help="send what is due and try failed deliveries again")
    p.add_argument("--study", type=int, help="only this study's deliveries")
    p.add_argument("--misaddressed", action="store_true",
                   help="list the application ACKs waiting for a target that does not name their sender "
                        "(queued for every HL7 target before migration 0022)")
    p.add_argument("--cancel-misaddressed", action="store_true",
                   help="cancel those application ACKs (audited interop:cancelled)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_outbox)

    p = commands.add_parser("target", help="delivery targets of signed results")
    targets = p.add_subparsers(dest="target_command", metavar="COMMAND", required=True)
    q = targets.add_parser("add", parents=[user], help="add a folder, MLLP or FHIR target")
    q.add_argument("name")
    q.add_argument("--kind", required=True, choices=["folder", "mllp", "fhir"])
    q.add_argument("--address", required=True, help="folder path, host:port, or FHIR base URL")
    q.add_argument("--formats", help="comma list of hl7, fhir, dicom (default: fhir for a FHIR target, "
                   "else hl7; an MLLP target takes hl7 only, a FHIR target fhir only)")
    q.add_argument("--max-attempts", type=int, default=8)
    q.add_argument("--sender", action="append", default=[], metavar="APP^FACILITY",
                   help="an HL7 v2 sender (MSH-3^MSH-4) whose EHR this is: its application ACKs come here "
                        "(repeat for several)")
    q.set_defaults(func=_cmd_target_add)
    q = targets.add_parser("senders", parents=[user],
                           help="set the HL7 v2 senders (MSH-3^MSH-4) a target belongs to (none: clear)")
    q.add_argument("name")
    q.add_argument("senders", nargs="*", metavar="APP^FACILITY")
    q.set_defaults(func=_cmd_target_senders)
    for verb, said in (("enable", "send to a disabled target again (what waited for it goes out)"),
                       ("disable", "stop sending to a target (what waits for it stays, unsent)")):
        q = targets.add_parser(verb, parents=[user], help=said)
        q.add_argument("name")
        q.set_defaults(func=_cmd_target_enable)
    q = targets.add_parser("list", parents=[user], help="the delivery targets")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_target_list)

    p = commands.add_parser("inbound", parents=[user], help="order messages received, and what each did")
    p.add_argument("--status", choices=["accepted", "refused", "held", "duplicate"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_inbound)
