"""Accounts: ``ecgdesk user add|list|disable|enable|reset-password|change-password`` and
``ecgdesk user token ...``.

The first administrator is created with ``user add NAME --role admin`` on an empty database; after that
only an administrator, authenticated like any acting user, manages accounts.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ecgdesk.cli._auth import Acting, acting, auth_parent, read_secret
from ecgdesk.cli._common import command_store, print_json
from ecgdesk.errors import InputError

if TYPE_CHECKING:  # the store is opened inside the commands (a fast ``ecgdesk --help``)
    from ecgdesk.store import Store


def _store() -> Store:

    return command_store()


def _admin(args: argparse.Namespace, store: Store, **options: object) -> Acting:
    from ecgdesk.workflow.permissions import Action

    return acting(args, store, Action.USER_MANAGE, **options)  # type: ignore[arg-type]


def _new_secret(args: argparse.Namespace, username: str, env_option: str, stdin_option: str | None) -> str:
    secret = read_secret(
        args, f"new password/PIN for {username}: ", None, env_option=env_option, stdin_option=stdin_option
    )
    if secret is None:
        raise InputError("password", "no terminal to ask for it; use --password-stdin or --password-env VAR")
    return secret


def _cmd_add(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.users import add_user, administrator_exists

    password = _new_secret(args, args.username, "password_env", "password_stdin")
    store = _store()
    by = None
    if administrator_exists(store):
        by = _admin(args, store, env_option="admin_password_env", stdin_option=None).principal
    info = add_user(
        store, args.username, args.role, password, args.name, args.npi, args.credentials, actor="setup",
        by=by,
        must_change=by is not None,  # an administrator chose it for them (not the first, setting up)
    )
    then = "; they change the password at their first login" if info.must_change_password else ""
    print(f"user {info.username} ({info.role.value}) added with id {info.id}{then}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.users import list_users

    store = _store()
    users = list_users(store, _admin(args, store).principal)
    if args.json:
        print_json([{**u.__dict__, "role": u.role.value} for u in users])
        return 0
    for u in users:
        state = "disabled" if u.disabled else ("must-change-password" if u.must_change_password else "active")
        print(f"{u.id:4}  {u.username:20}  {u.role.value:10}  {state:8}  {u.display_name}")
    return 0


def _cmd_disable(args: argparse.Namespace, disabled: bool) -> int:
    from ecgdesk.workflow.users import set_disabled

    store = _store()
    info = set_disabled(store, _admin(args, store).principal, args.username, disabled)
    print(f"user {info.username}: {'disabled' if info.disabled else 'enabled'}")
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.users import reset_password

    store = _store()
    by = _admin(args, store).principal
    password = _new_secret(args, args.username, "new_password_env", None)
    reset_password(store, by, args.username, password)
    print(
        f"user {args.username}: password reset; their open sessions were ended, and they change the "
        "password at their next login"
    )
    return 0


def _cmd_change(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.permissions import Action
    from ecgdesk.workflow.sessions import change_password

    store = _store()
    who = acting(args, store, Action.PASSWORD_CHANGE)  # the current password, as for any command
    password = _new_secret(args, who.principal.username, "new_password_env", None)
    done = change_password(store, who.principal, who.password or "", password, "cli")
    print(
        f"user {who.principal.username}: password changed; {len(done.sessions_ended)} session(s) ended, "
        f"{len(done.tokens_revoked)} API token(s) revoked"
    )
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.sessions import create_token

    store = _store()
    info, secret = create_token(store, _admin(args, store).principal, args.username, args.name)
    print(f"token {info.id} ({info.name}) acts as {info.username} ({info.role.value}); shown only now:")
    print(secret)
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.sessions import revoke_token

    store = _store()
    info = revoke_token(store, _admin(args, store).principal, args.token_id)
    print(f"token {info.id} ({info.name}) revoked")
    return 0


def _cmd_token_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.sessions import list_tokens

    store = _store()
    for t in list_tokens(store, _admin(args, store).principal):
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        print(f"{t.id:4}  {t.name:24}  {t.username:16}  {t.role.value:10}  {state}")
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    """``settings`` (show them) and ``settings NAME VALUE`` (change one; administrator)."""
    from dataclasses import asdict

    from ecgdesk.workflow.app_settings import change_setting, list_settings
    from ecgdesk.workflow.permissions import Action

    store = _store()
    acted = acting(args, store, Action.SETTINGS_MANAGE)
    who = acted.principal
    if args.name is not None:
        if args.value is None:
            raise InputError("value", f"give the new value of {args.name}")
        values = [change_setting(store, who, args.name, args.value, acted.policy)]
    else:
        values = list_settings(store, who, acted.policy)
    if args.json:
        print_json([asdict(v) for v in values])
        return 0
    for v in values:
        changed = f"{v.changed_by}, {v.changed_at:%Y-%m-%d %H:%M} UTC" if v.changed_by else "default"
        if v.fixed_by:  # this process's environment wins over the stored setting
            changed = f"fixed by {v.fixed_by} in the environment"
        print(f"{v.name:28} {v.value:6}  ({v.low}-{v.high}; default {v.default}; {changed})  {v.label}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parent = auth_parent()
    user = subparsers.add_parser("user", help="accounts, roles and API tokens")
    sub = user.add_subparsers(dest="user_command", metavar="USER_COMMAND", required=True)

    add = sub.add_parser("add", help="add a user with a password or PIN")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["technician", "physician", "biller", "admin"])
    add.add_argument("--name", help="printed name, e.g. 'Dana Demo, MD'")
    add.add_argument("--npi", help="NPI (required for physicians)")
    add.add_argument("--credentials", help="e.g. MD, CCT")
    group = add.add_mutually_exclusive_group()
    group.add_argument(
        "--password-stdin", action="store_true", help="read the new user's password from stdin"
    )
    group.add_argument(
        "--password-env", metavar="VAR", help="read the new user's password from this variable"
    )
    add.add_argument(
        "--user", help="the administrator adding the user, once one exists (default $ECGDESK_USER)"
    )
    add.add_argument(
        "--admin-password-env", metavar="VAR", help="that administrator's password (or $ECGDESK_PASSWORD)"
    )
    add.set_defaults(func=_cmd_add)

    lst = sub.add_parser("list", parents=[parent], help="the accounts (administrator)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=_cmd_list)
    for name, flag in (("disable", True), ("enable", False)):
        cmd = sub.add_parser(name, parents=[parent], help=f"{name} an account (administrator)")
        cmd.add_argument("username")
        cmd.set_defaults(func=lambda args, flag=flag: _cmd_disable(args, flag))
    reset = sub.add_parser("reset-password", parents=[parent], help="set a user's password (administrator)")
    reset.add_argument("username")
    reset.add_argument("--new-password-env", metavar="VAR", help="read the new password from this variable")
    reset.set_defaults(func=_cmd_reset)
    change = sub.add_parser(
        "change-password",
        parents=[parent],
        help="change your own password (--user and the current one); ends your sessions and API tokens",
    )
    change.add_argument("--new-password-env", metavar="VAR", help="read the new password from this variable")
    change.set_defaults(func=_cmd_change)

    token = sub.add_parser("token", help="API tokens of devices and integrations (administrator)")
    token_sub = token.add_subparsers(dest="token_command", metavar="TOKEN_COMMAND", required=True)
    create = token_sub.add_parser("create", parents=[parent], help="a new token acting as a user")
    create.add_argument("username", help="the user the token acts as (with their role)")
    create.add_argument("--name", required=True, help="the device or integration, e.g. 'holter-station-2'")
    create.set_defaults(func=_cmd_token_create)
    revoke = token_sub.add_parser("revoke", parents=[parent], help="revoke a token")
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(func=_cmd_token_revoke)
    tlist = token_sub.add_parser("list", parents=[parent], help="the tokens")
    tlist.set_defaults(func=_cmd_token_list)

    settings = subparsers.add_parser(
        "settings", parents=[parent], help="application settings: show them, or change one (administrator)"
    )
    settings.add_argument("name", nargs="?", help="the setting to change, e.g. escalate_emergent_minutes")
    settings.add_argument(
        "value", nargs="?", help="its new value (a whole number in the range `settings` shows, or `default`)"
    )
    settings.add_argument("--json", action="store_true")
    settings.set_defaults(func=_cmd_settings)
