"""How each resource of a result's transaction Bundle is written on the FHIR server (its entry's request).

A delivery is retried when its answer did not come, though the server may have stored the Bundle: a plain
create (POST) makes every resource of it again on each retry, and each corrected result makes a second
report beside the first. So every resource is keyed by a business identifier the server can search (FHIR
R4 3.1.0.8.1 and 3.1.0.10, conditional create and update in a transaction):

- the DiagnosticReport by our filler order number (the study) and each Observation by the study and the
  measurement: a conditional update (``PUT DiagnosticReport?identifier=...``) creates it the first time
  and updates that one resource after, so a retry rewrites it unchanged and a corrected result (status
  ``corrected``) replaces it in place;
- a Provenance (R4 gives it no identifier) by the report it signs and the time of the signature: a
  conditional create (``ifNoneExist``), so each signature is recorded once whatever the resends;
- the Patient and the Practitioners by their record number and NPI: a conditional create, the server
  keeps its own record of them (only where the identifier names its system: a bare MRN may be another
  assigning authority's number).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

#: the system of an Observation's identifier: our filler order number and the measurement's key
OBSERVATION_SYSTEM = "urn:ecgdesk:observation"


def observation_identifier(filler_order_number: str, key: str) -> dict[str, str]:
    """The identifier of a study's Observation of one measurement: the same in every result of the study."""
    return {"system": OBSERVATION_SYSTEM, "value": f"{filler_order_number}-{key}"}


def entry_request(resource: dict[str, Any], report_identifier: dict[str, Any]) -> dict[str, str]:
    """``Bundle.entry.request`` of one resource of a result; ``report_identifier``: the DiagnosticReport's."""
    kind = resource["resourceType"]
    if kind in {"DiagnosticReport", "Observation"}:
        return {"method": "PUT", "url": f"{kind}?identifier={token(resource['identifier'][0])}"}
    if kind == "Provenance":
        recorded = quote(resource["recorded"], safe=":")
        return {"method": "POST", "url": kind, "ifNoneExist": (
            f"target:DiagnosticReport.identifier={token(report_identifier)}&recorded={recorded}")}
    found = next((i for i in resource.get("identifier", []) if i.get("system") and i.get("value")), None)
    if found is None:
        return {"method": "POST", "url": kind}
    return {"method": "POST", "url": kind, "ifNoneExist": f"identifier={token(found)}"}


def token(identifier: dict[str, Any]) -> str:
    """An identifier as a token search value ``system|value``, each part escaped and URL-encoded."""
    system, value = (quote(_search_escaped(str(identifier[part])), safe=":/.")
                     for part in ("system", "value"))
    return f"{system}|{value}"


def _search_escaped(text: str) -> str:
    """``text`` as a FHIR search value: a backslash, ``|``, ``,`` and ``$`` escaped with a backslash (an MRN
    ``P|1`` would otherwise search system ``P``, value ``1``)."""
    return re.sub(r"([\\|,$])", r"\\\1", text)
