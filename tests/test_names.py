"""Printed names with credentials: joined once, by one function, wherever they are printed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecgdesk.interop.model import Provider
from ecgdesk.names import with_credentials, without_credentials
from ecgdesk.reports.context import SignatureBlock, signature_lines


@pytest.mark.parametrize(("name", "credentials", "printed"), [
    ("Dana Demo", "MD", "Dana Demo, MD"),
    ("Dana Demo, MD", "MD", "Dana Demo, MD"),  # printed "Dana Demo, MD, MD" before
    ("Dana Demo MD", "md", "Dana Demo MD"),
    ("Dana Demo, MD,FACC", "MD, FACC", "Dana Demo, MD,FACC"),
    ("Ahmed", "MD", "Ahmed, MD"),  # ends with the letters, not with the word
    ("Dana Demo", "", "Dana Demo"),
    ("Dana Demo", None, "Dana Demo"),
])
def test_credentials_are_joined_only_when_the_name_lacks_them(
    name: str, credentials: str | None, printed: str
) -> None:
    assert with_credentials(name, credentials) == printed


def test_signature_lines_and_the_hl7_fhir_provider_name_do_not_repeat_the_credentials() -> None:
    block = SignatureBlock("Dana Demo, MD", "MD", datetime(2026, 12, 7, 12, 0, tzinfo=UTC), "0" * 64)
    line = signature_lines(block, [], 1)[0].text
    assert line.startswith("Interpreted by: Dana Demo, MD ") and "MD, MD" not in line, line
    assert Provider("1234567893", "Demo, MD", "Dana", "MD").display == "Dana Demo, MD"
    assert Provider("1234567893", "Demo", "Dana", "MD").display == "Dana Demo, MD"


@pytest.mark.parametrize(("name", "bare"), [
    ("Demo, Dana, MD", "Demo, Dana"), ("Dana Demo MD", "Dana Demo"), ("Dana Demo, md", "Dana Demo"),
    ("Ahmed", "Ahmed"), ("MD", "MD"),
])
def test_the_credentials_a_name_ends_with_are_taken_off_for_its_parts(name: str, bare: str) -> None:
    assert without_credentials(name, "MD") == bare
