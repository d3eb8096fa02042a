"""A patient identifier's assigning authority, as an order names it and as a result must name it back.

HL7 v2 names it in CX-4, an HD (``namespace&universal id&universal id type``: ``HOSP&2.16.840.1&ISO``); FHIR
in ``Patient.identifier.system`` (a URI: ``urn:oid:2.16.840.1``, ``http://hospital.example.org/mrn``). It
is kept as the order gave it (the HD with its ``&``, or the system), the *issuer*, so that a result answers in
the order's terms: an EHR serving several facilities files a result by number AND authority, and the same
number from two authorities is two patients.
"""

from __future__ import annotations

import re

from ecgdesk.interop.hl7v2_text import component, escape

#: Our own system for a record number whose authority is only a namespace (an HD without a universal id)
#: or none at all (a study made here)
PATIENT_SYSTEM = "urn:ecgdesk:patient-id"

_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


def is_hd(issuer: str) -> bool:
    """Whether ``issuer`` is an HL7 v2 HD (read from CX-4) rather than a FHIR system (a URI)."""
    return "&" in issuer or ":" not in issuer


def _parts(issuer: str) -> tuple[str, str, str]:
    namespace, universal, kind = [*issuer.split("&"), "", ""][:3]
    return namespace, universal, kind.upper()


def _universal(issuer: str) -> str:
    """The authority's universal identity as a URI ('' for a namespace alone)."""
    if not is_hd(issuer):
        return issuer
    _, universal, kind = _parts(issuer)
    if not universal:
        return ""
    if kind == "URI" or (":" in universal and kind != "ISO"):
        return universal
    return f"urn:oid:{universal}" if kind == "ISO" or _OID.fullmatch(universal) else universal


def name(issuer: str) -> str:
    """One name of the authority (DICOM IssuerOfPatientID): the namespace, else the universal id or system."""
    if not is_hd(issuer):
        return issuer.removeprefix("urn:oid:")
    namespace, universal, _ = _parts(issuer)
    return namespace or universal


def same(a: str, b: str) -> bool:
    """Whether two issuers may name one authority: by universal identity where both have one (the namespace
    is a local label), else by namespace (``HOSP`` and ``HOSP&2.16.840.1&ISO`` are one). A namespace alone
    and a system alone cannot be compared (one EHR's HL7 feed says ``HOSP`` where its FHIR API says
    ``urn:oid:...``): taken as one, as a number without an authority is, rather than refuse the patient's
    orders."""
    ua, ub = _universal(a), _universal(b)
    if ua and ub:
        return ua == ub
    na = _parts(a)[0] if is_hd(a) else ""
    nb = _parts(b)[0] if is_hd(b) else ""
    return not (na and nb) or na == nb


def hd(issuer: str) -> tuple[str, ...]:
    """The subcomponents of CX-4 (unescaped) naming ``issuer``."""
    if is_hd(issuer):
        return tuple(issuer.split("&"))
    if issuer.startswith("urn:oid:"):
        return ("", issuer.removeprefix("urn:oid:"), "ISO")
    return ("", issuer, "URI")


def system(issuer: str | None) -> str:
    """``Patient.identifier.system`` naming ``issuer``: its system or universal id; a namespace alone (no
    universal id) under our own system, and no authority our own system."""
    if not issuer:
        return PATIENT_SYSTEM
    universal = _universal(issuer)
    return universal if ":" in universal else f"{PATIENT_SYSTEM}:{universal or _parts(issuer)[0]}"


def from_cx(cx: str) -> str | None:
    """CX-4 as given: the HD's subcomponents (unescaped) joined by ``&``, trailing empty ones dropped."""
    parts = [component(cx, 4, sub) for sub in (1, 2, 3)]
    while parts and not parts[-1]:
        parts.pop()
    return "&".join(parts) or None


def cx4(issuer: str | None, legacy: str | None = None) -> str:
    """CX-4 of a result's PID-3, escaped: the order's authority (``legacy``: a name alone, as before)."""
    if not issuer:
        return escape(legacy or "")
    return "&".join(escape(part) for part in hd(issuer))
