"""Fixtures of the command-line tests; the root conftest's names are re-exported (see
:func:`backends.root_conftest`)."""

import pytest

from backends import root_conftest

globals().update(root_conftest())


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper argon2 and scrypt for the commands run in-process here, as in the workflow and service tests
    (the parameters are stored in each hash, so checking works the same; each command checks the acting
    user's password, which at the real cost made most of these tests' time)."""
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr("ecgdesk.workflow.users.HASHER", cheap)
    monkeypatch.setattr("ecgdesk.workflow.users.SCRYPT_N", 1 << 10)
