"""The per-address login limit: refused logins from one client address, over a sliding window.

The account lockout slows guessing one account's password; one address trying a common password on many
accounts (password spraying) never tripped it. Each login attempt from an address takes a row in
``login_failures`` before its password is checked (so attempts racing each other count one another), the
row is removed when the login succeeds, and ``policy.address_attempts`` rows within
``policy.address_window_s`` refuse further attempts from the address (:class:`TooManyAttemptsError`, a 429
with Retry-After over HTTP, audited ``auth:address-limited`` naming the address) until the oldest leaves
the window. A refused attempt does not count: a real user of that address who tries again later gets in
once the window has moved on, however long the spraying went on before. The rows are in the database, so
the limit holds across the service's workers and restarts.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta

from sqlalchemy import delete, func, select

from ecgdesk.errors import TooManyAttemptsError
from ecgdesk.store import Store, append
from ecgdesk.store.service_models import LoginFailure
from ecgdesk.workflow.lifecycle import now
from ecgdesk.workflow.policy import SecurityPolicy
from ecgdesk.workflow.users import aware


def address_key(address: str) -> str:
    """The address as the limit counts it: an IPv6 client by its /64 (one subscriber's whole prefix,
    which a sprayer could otherwise walk through), an IPv4 one (mapped into IPv6 too) by itself."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]  # not an IP (a test client, a Unix socket): counted by its name
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def take_attempt(store: Store, address: str, username: str, policy: SecurityPolicy) -> int | None:
    """Count a login attempt from ``address`` (the id of its row, to :func:`forget_attempt` if it
    succeeds), or raise :class:`TooManyAttemptsError` (audited) when the address is at its limit.
    ``None``: the limit is off or the address unknown."""
    if policy.address_attempts <= 0 or not address:
        return None
    address = address_key(address)
    moment = now()
    since = moment - timedelta(seconds=policy.address_window_s)
    with store.transaction() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.at < since))  # out of every window
        counted = select(LoginFailure.at).where(LoginFailure.address == address, LoginFailure.at >= since)
        failures = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        if failures < policy.address_attempts:
            row = LoginFailure(address=address, at=moment)
            session.add(row)
            session.flush()
            return row.id
        # room for one more attempt once the failure that puts the address at its limit leaves the window
        oldest = session.scalars(counted.order_by(LoginFailure.at).offset(failures - policy.address_attempts)
                                 .limit(1)).first()
        ends = (aware(oldest) if oldest is not None else moment) + timedelta(seconds=policy.address_window_s)
        wait = max(1, math.ceil((ends - moment).total_seconds()))
        minutes = policy.address_window_s / 60
        append(session, username[:64], "auth:address-limited", "address", address, None,
               {"address": address, "failures": failures, "window_minutes": minutes, "retry_after_s": wait})
    raise TooManyAttemptsError(
        f"too many failed logins from {address} ({failures} in {minutes:g} minutes); try again in {wait} s",
        wait,
    )


def forget_attempt(store: Store, attempt: int | None) -> None:
    """The attempt succeeded: it is not a failure (the session it opened is audited already)."""
    if attempt is not None:
        with store.transaction() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))
