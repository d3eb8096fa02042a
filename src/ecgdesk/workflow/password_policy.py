"""The password rule (NIST SP 800-63B 5.1.1.2, memorized secrets): at least 8 characters and at most 1024,
any characters, no composition rules, not one of the most common passwords, not the user's own name.

The list of common passwords is our own, short and written here (no download): the passwords and patterns
every published breach list puts at its top, and the service's own name. A password is compared
case-folded, so "Password1" is refused as "password1" is.
"""

from __future__ import annotations

import unicodedata

from ecgdesk.errors import InputError

MIN_PASSWORD = 8
MAX_PASSWORD = 1024

#: The most common passwords of 8 characters or more (shorter ones fail the length first).
COMMON_PASSWORDS = frozenset(
    {
        "12345678", "123456789", "1234567890", "12345678910", "0123456789", "87654321", "987654321",
        "11111111", "111111111", "00000000", "22222222", "88888888", "99999999", "12341234", "11223344",
        "12344321", "1q2w3e4r", "1q2w3e4r5t", "1qaz2wsx", "zaq12wsx", "qwertyui", "qwerty123", "qwerty12",
        "qwertyuiop", "1qazxsw2", "asdfghjk", "asdfasdf", "asdf1234", "zxcvbnm1", "zxcvbnm123", "password",
        "password1", "password12", "password123", "passw0rd", "p@ssw0rd", "p@ssword", "pa55word",
        "passwort", "motdepasse", "contrasena", "iloveyou", "iloveyou1", "sunshine", "princess", "football",
        "baseball", "welcome1", "welcome123", "letmein1", "letmein123", "trustno1", "superman", "batman123",
        "starwars", "dragon123", "monkey123", "master123", "shadow123", "michael1", "jennifer", "abc12345",
        "abcd1234", "abcdefgh", "a1b2c3d4", "aa123456", "qazwsxedc", "1234qwer", "q1w2e3r4", "q1w2e3r4t5",
        "admin123", "administrator", "adminadmin", "changeme", "changeme1", "default1", "secret123",
        "123qweasd", "123123123", "123456abc", "computer", "internet", "whatever", "freedom1", "mustang1",
        "access14", "charlie1", "11111111a", "123456789a", "1234abcd", "doctor123", "hospital", "nurse123",
        "medical1", "cardiology", "ecgdesk", "ecgdesk1", "ecgdesk123", "ecg12345", "holter123",
    }
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` does not meet the rule (for ``username``), or None."""
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters (any characters: a phrase is good)"
    if len(password) > MAX_PASSWORD:
        return f"must be at most {MAX_PASSWORD} characters"
    folded = _fold(password)
    if folded in COMMON_PASSWORDS:
        return "is one of the most common passwords: choose one that is not easy to guess"
    name = _fold(username or "")
    if name and (folded == name or (len(name) >= 4 and name in folded)):
        return "must not be or contain the user name"
    return None


def check_password(password: str, field: str = "password", username: str | None = None) -> str:
    """``password`` if it meets the rule, else :class:`InputError` naming ``field`` and why."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InputError(field, problem)
    return password
