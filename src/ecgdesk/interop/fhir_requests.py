"""How each resource of a result's transaction Bundle is written on the FHIR server (its entry's request).

A delivery is retried when its answer did not come, though the server may have stored the Bundle: a plain
create (POST) makes every resource of it again on each retry, and each corrected result makes a second
report beside the first. So every resource is keyed by a business identifier the server can search (FHIR
R4 3.1.0.8.1 and 3.1.0.10, conditional create and update in a transaction):

- the DiagnosticReport by the study and each Observation by the study and the measurement, each under an
  identifier unique across installations (``urn:ietf:rfc:3986`` ``urn:uuid:...`` from what makes the study's
  DICOM UIDs unique, :attr:`SignedResult.uid_seed`; our filler number ``ECGDESK-<study>`` is only unique here,
  and keyed by it a second ECG Desk posting to the same server would update the other's report of another
  patient): a conditional update (``PUT DiagnosticReport?identifier=...``) creates it the first time
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
import uuid
from typing import Any
from urllib.parse import quote

#: FHIR's system for an identifier that is a URI (a ``urn:uuid:``), unique wherever it is used
URI_SYSTEM = "urn:ietf:rfc:3986"


def result_key(seed: str, measurement: str = "") -> dict[str, str]:
    """The identifier a study's DiagnosticReport (``measurement`` empty) or its Observation of one measurement
    is kept under on the server: the same in every result of the study, another in every other study."""
    name = f"ecgdesk-result:{seed}" + (f":{measurement}" if measurement else "")
    return {"system": URI_SYSTEM, "value": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"}


def entry_request(resource: dict[str, Any], report_key: dict[str, Any]) -> dict[str, str]:
    """``Bundle.entry.request`` of one resource of a result; ``report_key``: the DiagnosticReport's
    :func:`result_key`."""
    kind = resource["resourceType"]
    if kind in {"DiagnosticReport", "Observation"}:
        key = next(i for i in resource["identifier"] if i["system"] == URI_SYSTEM)
        return {"method": "PUT", "url": f"{kind}?identifier={token(key)}"}
    if kind == "Provenance":
        recorded = quote(resource["recorded"], safe=":")
        return {"method": "POST", "url": kind, "ifNoneExist": (
            f"target:DiagnosticReport.identifier={token(report_key)}&recorded={recorded}")}
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
