"""``study distinct``: mark a study's service distinct (59 / X{EPSU}) with its reason, or ``--remove`` it

(a subcommand of ``study``, added by :mod:`ecgdesk.cli.study`: no top-level command of its own)."""

from __future__ import annotations

import argparse

from ecgdesk.cli._auth import acting
from ecgdesk.cli._common import command_store
from ecgdesk.coding.facts import DISTINCT_MODIFIERS
from ecgdesk.errors import InputError


def _cmd_distinct(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.billing_distinct import clear_distinct, mark_distinct
    from ecgdesk.workflow.permissions import Action

    if args.remove == (args.modifier is not None):
        raise InputError("modifier", "give --modifier with --reason to mark the study, or --remove alone")
    store = command_store()
    who = acting(args, store, Action.STUDY_DISTINCT)
    if args.remove:
        if args.reason is not None:
            raise InputError(
                "reason", "--remove takes no reason (the removal is audited with the mark removed)"
            )
        clear_distinct(store, args.study_id, who.principal)
        print(f"study {args.study_id}: no longer marked a distinct service; code it again")
        return 0
    mark = mark_distinct(store, args.study_id, args.modifier, args.reason or "", who.principal)
    print(
        f"study {args.study_id}: distinct service, modifier {mark['modifier']} ({mark['reason']}); "
        "code it again"
    )
    return 0


def register_study_command(
    study_sub: argparse._SubParsersAction, user_parent: argparse.ArgumentParser
) -> None:
    distinct = study_sub.add_parser(
        "distinct",
        parents=[user_parent],
        help="mark the study's service distinct (NCCI modifier 59 / XE / XS / XP / XU) or remove the mark",
    )
    distinct.add_argument("study_id", type=int)
    distinct.add_argument("--modifier", help=f"one of {', '.join(DISTINCT_MODIFIERS)}")
    distinct.add_argument(
        "--reason", help="the documented reason it was a distinct service (required to mark)"
    )
    distinct.add_argument("--remove", action="store_true", help="remove the mark")
    distinct.set_defaults(func=_cmd_distinct)
