"""A person's printed name with credentials, joined in one place for every face that prints it.

Display names are often entered with the credentials already in them ("Dana Demo, MD"), and the users table
keeps the credentials apart too ("MD"): joining them blindly printed "Dana Demo, MD, MD" on the users page,
in signature lines and in the HL7/FHIR provider name.
"""

from __future__ import annotations

import re


def _trailing(credentials: str) -> str:
    """A pattern for ``credentials`` at the end of a name, as a whole word, spacing after commas ignored."""
    spaced = r",\s*".join(re.escape(part.strip()) for part in credentials.split(","))
    return rf"(^|[\s,]){spaced}$"


def without_credentials(name: str, credentials: str | None) -> str:
    """``name`` less the ``credentials`` it ends with ("Demo, Dana, MD" -> "Demo, Dana"), for the parts of
    an HL7/FHIR name, where the credentials have a field of their own."""
    creds = (credentials or "").strip()
    name = name.strip()
    if not creds:
        return name
    return re.sub(_trailing(creds), "", name, flags=re.IGNORECASE).rstrip(" ,") or name


def with_credentials(name: str, credentials: str | None) -> str:
    """``name, credentials``, unless ``name`` already ends with those credentials (as a whole word, any
    case, spacing after commas ignored) or there are none."""
    name = name.strip()
    creds = (credentials or "").strip()
    if not creds:
        return name
    if not name:
        return creds
    if re.search(_trailing(creds), name, re.IGNORECASE):
        return name
    return f"{name}, {creds}"
