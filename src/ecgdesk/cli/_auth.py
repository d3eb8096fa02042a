"""Who is acting on the command line: authenticated, never merely named.

The acting user is ``--user NAME`` (or ``$ECGDESK_USER``) and proves it with a password or PIN: from
``--password-stdin``, ``--password-env VAR``, ``$ECGDESK_PASSWORD`` or a prompt on a terminal; a device or
script may instead set ``$ECGDESK_TOKEN`` (an API token). The action is then checked against the one
permission table (:mod:`ecgdesk.workflow.permissions`); a refusal exits with status 2 and is audited.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecgdesk.errors import AuthenticationError, InputError

if TYPE_CHECKING:
    from ecgdesk.store import Store
    from ecgdesk.workflow.permissions import Action, Principal
    from ecgdesk.workflow.policy import SecurityPolicy

USER_ENV, PASSWORD_ENV, TOKEN_ENV = "ECGDESK_USER", "ECGDESK_PASSWORD", "ECGDESK_TOKEN"


def add_auth_options(parser: argparse.ArgumentParser) -> None:
    """``--user`` and the two ways a script hands over the password."""
    parser.add_argument("--user", help=f"who is acting (default ${USER_ENV})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true", help="read the password/PIN from stdin")
    group.add_argument(
        "--password-env",
        metavar="VAR",
        help=f"read the password/PIN from this variable (or set ${PASSWORD_ENV})",
    )


def auth_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    add_auth_options(parent)
    return parent


def read_secret(
    args: argparse.Namespace,
    prompt: str,
    fallback_env: str | None = PASSWORD_ENV,
    env_option: str = "password_env",
    stdin_option: str | None = "password_stdin",
) -> str | None:
    """The password/PIN from ``--password-stdin``, ``--password-env VAR``, ``fallback_env`` or a prompt
    (``None`` when there is none and no terminal to ask on); text that is not UTF-8 is refused."""
    try:
        value = _read_secret(args, prompt, fallback_env, env_option, stdin_option)
        if value is not None:
            value.encode("utf-8")  # an environment variable of undecodable bytes holds surrogates
    except UnicodeError:
        raise InputError("password", "is not valid UTF-8 text") from None
    return value


def _read_secret(
    args: argparse.Namespace,
    prompt: str,
    fallback_env: str | None,
    env_option: str,
    stdin_option: str | None,
) -> str | None:
    if stdin_option and getattr(args, stdin_option, False):
        return sys.stdin.readline().rstrip("\r\n")
    variable = getattr(args, env_option, None)
    if variable:
        value = os.environ.get(variable)
        if value is None:
            raise InputError(env_option.replace("_", "-"), f"environment variable {variable} is not set")
        return value
    if fallback_env and os.environ.get(fallback_env) is not None:
        return os.environ[fallback_env]
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return None


@dataclass(frozen=True)
class Acting:
    principal: Principal
    password: str | None
    #: The command's security settings (read once from the environment): the lockout of the login here
    #: and of every password re-entered later in the command (signing, addendum, criteria) alike.
    policy: SecurityPolicy

    @property
    def actor(self) -> str:
        return self.principal.actor


def acting(
    args: argparse.Namespace,
    store: Store,
    action: Action | None,
    env_option: str = "password_env",
    stdin_option: str | None = "password_stdin",
) -> Acting:
    """Authenticate the acting user and check ``action`` against the permission table.

    ``env_option``/``stdin_option`` name the options that carry the acting user's password (``user add``
    uses its own, since ``--password-env`` there is the new user's password)."""
    from ecgdesk.workflow.permissions import authorize
    from ecgdesk.workflow.policy import SecurityPolicy
    from ecgdesk.workflow.users import authenticate

    policy = SecurityPolicy.from_env()

    username = getattr(args, "user", None) or os.environ.get(USER_ENV)
    token = os.environ.get(TOKEN_ENV)
    explicit = (stdin_option and getattr(args, stdin_option, False)) or getattr(args, env_option, None)
    if token and not explicit:
        from ecgdesk.workflow.sessions import resolve_token  # its tables are loaded only for a token

        principal = resolve_token(store, token, policy)
        if username and username != principal.username:
            raise AuthenticationError(f"${TOKEN_ENV} belongs to {principal.username!r}, not {username!r}")
        password = None
    else:
        if not username:
            raise AuthenticationError(f"who is acting? give --user NAME (or set ${USER_ENV})")
        password = read_secret(
            args, f"password/PIN for {username}: ", env_option=env_option, stdin_option=stdin_option
        )
        if password is None:
            raise AuthenticationError(
                f"no password for {username!r}: no terminal to ask on; use --password-stdin, "
                f"--password-env VAR, ${PASSWORD_ENV} or ${TOKEN_ENV}"
            )
        principal = authenticate(store, username, password, policy=policy).principal("cli")
    if action is not None:
        authorize(store, principal, action)
    return Acting(principal, password, policy)


def signing_password(args: argparse.Namespace, who: Acting) -> str:
    """The password re-entered at signing: the one given to authenticate, else asked for now."""
    if who.password is not None:
        return who.password
    secret = read_secret(args, f"password/PIN for {who.principal.username} (to sign): ")
    if secret is None:
        raise AuthenticationError("signing needs the physician's password or PIN, not only a token")
    return secret
