"""A person's printed name with credentials, joined in one place for every face that prints it.

Display names are often entered with the credentials already in them ("Dana Demo, MD"), and the users table
keeps the credentials apart too ("MD"): joining them blindly printed "Dana Demo, MD, MD" on the users page,
in signature lines and in the HL7/FHIR provider name.
"""

from __future__ import annotations

import re


def with_credentials(name: str, credentials: str | None) -> str:
    """``name, credentials``, unless ``name`` already ends with those credentials (as a whole word, any
    case, spacing after commas ignored) or there are none."""
    name = name.strip()
    creds = (credentials or "").strip()
    if not creds:
        return name
    if not name:
        return creds
    spaced = r",\s*".join(re.escape(part.strip()) for part in creds.split(","))
    if re.search(rf"(^|[\s,]){spaced}$", name, re.IGNORECASE):
        return name
    return f"{name}, {creds}"
