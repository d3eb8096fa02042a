"""FHIR R4 references in an order: the resource a Reference names in the message, and a requester named by
its NPI alone.

A Reference names its target by a literal reference (``#id``, ``Type/id``, a Bundle entry's ``fullUrl``) or,
logically, by an identifier (R4 Reference.identifier). An EHR often names the ordering provider by NPI alone,
with no Practitioner resource: the NPI, checked, is who ordered. Many name the indication by a Condition
(``reasonReference``, a problem-list entry) rather than a code (``reasonCode``): its ICD-10-CM code is read.
"""

from __future__ import annotations

from typing import Any

from ecgdesk.coding.scrub.documentation import NPI_PREFIX, npi_valid
from ecgdesk.errors import InputError
from ecgdesk.interop.model import MAX_NAME, Provider, within

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def find_reference(
    resources: list[dict[str, Any]], target: Any, kind: str, field: str, source: str
) -> dict[str, Any] | None:
    """The ``kind`` resource a Reference (``target``) names by its literal reference, else by its identifier
    (a logical reference: the resource in the message that carries it); refused when it names more than one
    (taking the first would file the order under whichever came first)."""
    target = target if isinstance(target, dict) else {}
    reference, logical = target.get("reference"), target.get("identifier")
    if reference:
        reference = reference.split("/_history/")[0]  # a versioned reference names the same resource
        keys = [{f"#{r.get('id')}", f"{kind}/{r.get('id')}", r.get("_fullUrl")} for r in resources]
    elif isinstance(logical, dict) and logical.get("value"):
        reference = f"{logical.get('system') or ''}|{logical['value']}"
        keys = [{f"{i.get('system') or ''}|{i.get('value')}" for i in r.get("identifier") or []
                 if isinstance(i, dict)} for r in resources]
    else:
        return None
    found = [r for r, names in zip(resources, keys, strict=True)
             if r.get("resourceType") == kind and reference in names]
    if len(found) > 1:
        raise InputError(field, f"{reference!r} matches {len(found)} {kind} resources in the message",
                         source)
    declared = target.get("type")
    if found and declared not in (None, kind):
        if not target.get("reference"):  # by identifier: it names a resource of its type, not this one
            return None
        # R4: type and a literal reference SHALL be consistent
        raise InputError(f"{field}.type", f"says {str(declared)[:60]!r}, but {reference!r} is a {kind}",
                         source)
    return found[0] if found else None


def requester_by_npi(reference: Any, source: str) -> Provider | None:
    """The ordering provider of a requester Reference that names an NPI by identifier alone (no Practitioner
    in the message), named by its ``display`` if any; None when it names no NPI. An NPI that
    fails its check digit is refused: it names nobody, and the order would be billed under it."""
    logical = reference.get("identifier") if isinstance(reference, dict) else None
    if not isinstance(logical, dict) or logical.get("system") != NPI_SYSTEM or not logical.get("value"):
        return None
    npi = str(logical["value"]).strip()
    if not npi_valid(npi):
        why = f"{npi!r} is not a valid NPI (10 digits, the last a Luhn check digit over {NPI_PREFIX})"
        raise InputError("ServiceRequest.requester.identifier", why, source)
    # no name made up from the NPI: billing would print it as the clinician's name (an unnamed NPI is
    # registered with 'billing clinician add'); screens and results show the NPI
    name = str(reference.get("display") or "").strip()
    within(name, MAX_NAME, "ServiceRequest.requester.display", source)
    return Provider(npi, name)


def _icd10(concept: Any) -> list[str]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [str(c["code"]) for c in codings or [] if isinstance(c, dict) and c.get("system") == ICD10CM
            and c.get("code")]


def order_indications(request: dict[str, Any], resources: list[dict[str, Any]],
                      source: str) -> tuple[str, ...]:
    """The ICD-10-CM indications of a ServiceRequest: its reasonCode codings, then the codes of the
    Conditions in the message its reasonReference names (until 2026-12-08 those were not read: an order
    giving its indication so was refused as having none). Refused naming reasonCode when there is none."""
    found = [code for concept in request.get("reasonCode") or [] for code in _icd10(concept)]
    references = request.get("reasonReference") or []
    for i, reference in enumerate(references if isinstance(references, list) else []):
        condition = find_reference(resources, reference, "Condition", f"ServiceRequest.reasonReference[{i}]",
                                   source)
        found += [code for code in _icd10((condition or {}).get("code")) if code not in found]
    if not found:
        raise InputError("ServiceRequest.reasonCode", "an order needs at least one ICD-10-CM indication "
                         f"(system {ICD10CM}), in reasonCode or a Condition in the message that "
                         "reasonReference names", source)
    return tuple(found)
