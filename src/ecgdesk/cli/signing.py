"""``ecgdesk study sign-queue`` and ``study sign-batch``: the physician's reviewed studies, and several
signed with one entry of the password (:mod:`ecgdesk.workflow.signing_batch`, as the API and the page)."""

from __future__ import annotations

import argparse

from ecgdesk.cli._auth import acting, signing_password
from ecgdesk.cli._common import command_store, print_json


def _cmd_queue(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.review_schemas import QueuedStudyOut
    from ecgdesk.workflow.signing_batch import signing_queue

    store = command_store()
    who = acting(args, store, Action.STUDY_SIGN)
    queue = signing_queue(store, who.principal.username, who.principal.actor)
    if args.json:  # the API's document, times in ISO 8601 with their offset
        print_json([QueuedStudyOut(**vars(q)).to_dict() for q in queue])
        return 0
    for q in queue:
        state = "ready" if q.ready else f"not ready: {q.reason}"
        at = q.reviewed_at.isoformat(timespec="seconds") if q.reviewed_at else "(time not kept)"
        reviewed = f"version {q.reviewed_version or q.version} reviewed {at}"
        if q.reviewed_version and q.reviewed_version != q.version:  # rendered again since: not reviewed
            reviewed += f", version {q.version} since"
        mark = "  CHANGED AFTER SENDING" if q.changed_after_sending else ""
        print(f"study {q.study_id}  {q.patient_name} ({q.patient_id})  {q.service}  {q.priority}  "
              f"{reviewed}{mark}  {state}")
    if not queue:
        print("no reported study reviewed by you is waiting for a signature")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.signing_batch import sign_batch

    store = command_store()
    who = acting(args, store, Action.STUDY_SIGN)
    done = sign_batch(
        store, args.study_ids, who.principal.username, signing_password(args, who), who.policy
    )
    for s in done.signed:
        print(f"study {s.study_id}: report version {s.version} signed ({done.meaning} {s.printed_name}) at "
              f"{s.signed_at.isoformat(timespec='seconds')}: {s.pdf_path}")
    for r in done.refused:
        print(f"study {r.study_id}: NOT signed: {r.reason}")
    print(f"{len(done.signed)} signed, {len(done.refused)} not signed")
    return 1 if done.refused else 0  # a script sees that some are left to do


def add_study_commands(study_sub: argparse._SubParsersAction, user_parent: argparse.ArgumentParser) -> None:
    queue = study_sub.add_parser(
        "sign-queue", parents=[user_parent], help="physician: your reviewed studies, ready to sign or why not"
    )
    queue.add_argument("--json", action="store_true")
    queue.set_defaults(func=_cmd_queue)
    batch = study_sub.add_parser(
        "sign-batch",
        parents=[user_parent],
        help="physician: sign several reviewed reports with one entry of the password; each one that "
        "fails a check is listed with the reason and left unsigned (exit 1)",
    )
    batch.add_argument("study_ids", type=int, nargs="+", metavar="STUDY_ID")
    batch.set_defaults(func=_cmd_batch)
