"""FHIR R4 (the ``fhir.resources.R4B`` classes): the signed result as a DiagnosticReport Bundle, orders in.

A result is one ``transaction`` Bundle: the Patient, the ordering and interpreting Practitioners, one
Observation per measurement (LOINC, MDC or our local code) and the DiagnosticReport with the signed PDF in
``presentedForm``, ``basedOn`` the order (by its placer identifier) and ``resultsInterpreter``, and a
Provenance per signature of the report. Every
resource is validated by fhir.resources before it is serialised. An order arrives as a ``ServiceRequest``
(alone with its Patient and requester contained, or in a Bundle beside them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest

from ecgdesk.errors import InputError
from ecgdesk.interop import authority
from ecgdesk.interop.codes import LOINC, MDC, UCUM, code_table, first_orderable
from ecgdesk.interop.fhir_checks import refuse_unreadable as _refuse_control_characters
from ecgdesk.interop.fhir_refs import NPI_SYSTEM, find_reference, order_indications, requester_by_npi
from ecgdesk.interop.fhir_requests import entry_request, result_key
from ecgdesk.interop.model import (
    MAX_ID,
    MAX_NAME,
    RECORD_NUMBER_TYPES,
    OrderControl,
    OrderPriority,
    OrderRequest,
    PatientInfo,
    Provider,
    SignatureEntry,
    SignedResult,
    in_utc,
    is_record_number_type,
    within,
)

CPT = "http://www.ama-assn.org/go/cpt"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
FILLER_SYSTEM = "urn:ecgdesk:filler-order"
PATIENT_SYSTEM = authority.PATIENT_SYSTEM
_GENDER = {"F": "female", "M": "male", "U": "unknown"}
_GENDER_BACK = {"female": "F", "male": "M", "unknown": "U", "other": "U"}
#: ServiceRequest.status we act on (FHIR R4 request-status): "active" is the order as it stands (new, or a
#: change); "on-hold" withdraws it for now ("expected to resume"): held, not changed; "revoked" and
#: "entered-in-error" end it. "draft" (not yet ready for action), "completed" (fully performed: nothing to
#: do) and "unknown" are not orders to work.
_CONTROL = {
    "active": OrderControl.ACTIVE,
    "on-hold": OrderControl.HOLD,
    "revoked": OrderControl.CANCEL,
    "entered-in-error": OrderControl.CANCEL,
}


def _instant(value: datetime) -> str:
    return in_utc(value).isoformat().replace("+00:00", "Z")


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _practitioner(provider: Provider) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "name": [{"family": provider.family, **({"given": [provider.given]} if provider.given else {})}],
    }
    if provider.npi:
        resource["identifier"] = [{"system": NPI_SYSTEM, "value": provider.npi}]
    if provider.credentials:
        resource["name"][0]["suffix"] = [provider.credentials]
    return resource


def _patient(patient: PatientInfo) -> dict[str, Any]:
    # a record number without its assigning authority is ours to name (a study made here, a PID-3 without
    # one): under a system of our own it matches no other system's bare number, and the server keeps one
    # Patient of it (without a system it was created again by every result and every retry)
    # the order's own system where it named one (the EHR files the result by number AND system)
    legacy = f"{PATIENT_SYSTEM}:{patient.id_authority}" if patient.id_authority else PATIENT_SYSTEM
    identifier: dict[str, Any] = {
        "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
        "system": authority.system(patient.id_issuer) if patient.id_issuer else legacy,
        "value": patient.id,
    }
    return {
        "resourceType": "Patient",
        "identifier": [identifier],
        "name": [{"family": patient.family, **({"given": [patient.given]} if patient.given else {})}],
        "gender": _GENDER.get(patient.sex, "unknown"),
        "birthDate": patient.birth_date.isoformat(),
    }


def _observation_code(key: str) -> dict[str, Any]:
    table = code_table()
    code = table.measurement(key)
    codings = []
    if code.loinc:
        codings.append({"system": LOINC, "code": code.loinc, "display": code.label})
    if code.mdc:
        codings.append({"system": MDC, "code": code.mdc, "display": code.label})
    codings.append({"system": table.local_system, "code": key, "display": code.label})
    return {"coding": codings, "text": code.label}


#: Provenance agent type, and the signature types (ASTM E1762, FHIR's signature-type value set) of the
#: report's first signature (the interpreting physician's) and of each later one (an addendum's).
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
AUTHOR_SIGNATURE = {
    "system": "urn:iso-astm:E1762-95:2013",
    "code": "1.2.840.10065.1.12.1.1",
    "display": "Author's Signature",
}
ADDENDUM_SIGNATURE = {
    "system": "urn:iso-astm:E1762-95:2013",
    "code": "1.2.840.10065.1.12.1.15",
    "display": "Addendum Signature",
}


def _provenances(result: SignedResult, report_url: str, interpreter_url: str) -> list[dict[str, Any]]:
    """Who signed the report, when, and what each signature means (21 CFR 11.50: printed name, date and
    time, meaning), as Provenances of the DiagnosticReport (R4 has no signature on the report itself): one
    per signature up to this version, oldest first, as the ORU's NTEs and the PDF list them. Each signature
    is its own act (its own time, signer and content), so each is its own Provenance. A report's first
    signature is its author's; every later one signed an addendum, the only way a signed report gets a new
    version. Only this version's signer is in the Bundle as a Practitioner: earlier signers are named as
    signed (a display-only Reference)."""
    signatures = (*result.earlier_signatures,
                  SignatureEntry(result.signature_meaning, result.printed_name, result.signed_at))
    provenances = []
    for at, signature in enumerate(signatures):
        own = at == len(signatures) - 1
        who = ({"reference": interpreter_url, "display": signature.printed_name} if own
               else {"display": signature.printed_name})
        provenances.append({
            "resourceType": "Provenance",
            "target": [{"reference": report_url}],
            "recorded": _instant(signature.signed_at),
            "agent": [
                {
                    "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "author", "display": "Author"}]},
                    "role": [{"text": signature.meaning}],
                    "who": who,
                }
            ],
            "signature": [
                {
                    "type": [AUTHOR_SIGNATURE if at == 0 else ADDENDUM_SIGNATURE],
                    "when": _instant(signature.signed_at),
                    "who": who,
                }
            ],
        })
    return provenances


def build_bundle(result: SignedResult) -> dict[str, Any]:
    """The transaction Bundle of a signed result, validated with fhir.resources R4B, as JSON-ready data."""
    table = code_table()
    seed = result.uid_seed or result.filler_order_number
    patient_url, ordering_url, interpreter_url, report_url = _urn(), _urn(), _urn(), _urn()
    subject = {"reference": patient_url, "display": result.patient.display}
    effective: dict[str, Any] = {}
    if result.observed_start is not None:
        effective["effectivePeriod"] = {
            "start": _instant(result.observed_start),
            **({"end": _instant(result.observed_end)} if result.observed_end else {}),
        }
    else:
        effective["effectiveDateTime"] = _instant(result.signed_at)
    entries: list[tuple[str, dict[str, Any]]] = [
        (patient_url, _patient(result.patient)),
        (ordering_url, _practitioner(result.ordering)),
        (interpreter_url, _practitioner(result.interpreter)),
    ]
    observation_urls = []
    for m in result.measurements:
        url = _urn()
        observation_urls.append(url)
        entries.append(
            (
                url,
                {
                    "resourceType": "Observation",
                    "identifier": [result_key(seed, m.key)],
                    # an amended report is corrected; an Observation only where its value changed
                    "status": "corrected" if m.key in result.changed_measurements else "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "procedure",
                                }
                            ]
                        }
                    ],
                    "code": _observation_code(m.key),
                    "subject": subject,
                    **effective,
                    "issued": _instant(result.signed_at),
                    "performer": [{"reference": interpreter_url}],
                    "valueQuantity": {"value": m.value, "unit": m.unit, "system": UCUM, "code": m.unit},
                },
            )
        )
    loinc, display = table.study(result.service)
    study_codings = [{"system": LOINC, "code": loinc, "display": display}] if loinc else []
    study_codings.append({"system": table.local_system, "code": result.service, "display": display})
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": [
            {
                "system": FILLER_SYSTEM,
                "value": result.filler_order_number,
                "type": {"coding": [{"system": V2_0203, "code": "FILL"}]},
            },
            result_key(seed),
        ],
        "status": result.status.fhir,
        "category": [
            {
                "coding": [
                    {"system": LOINC, "code": "LP29708-2", "display": "Cardiology"},
                    {"system": V2_0074, "code": "EC", "display": "Electrocardiac"},
                ]
            }
        ],
        "code": {"coding": study_codings, "text": display},
        "subject": subject,
        **effective,
        "issued": _instant(result.signed_at),
        "performer": [{"reference": interpreter_url, "display": result.printed_name}],
        "resultsInterpreter": [{"reference": interpreter_url, "display": result.printed_name}],
        "result": [{"reference": url} for url in observation_urls],
        "presentedForm": [
            {
                "contentType": "application/pdf",
                "language": "en-US",
                "data": base64.b64encode(result.pdf).decode("ascii"),
                "title": f"ECG report, version {result.report_version}",
                "creation": _instant(result.signed_at),
            }
        ],
    }
    if result.placer_order_number:
        report["basedOn"] = [
            {
                "type": "ServiceRequest",
                "identifier": {
                    "type": {"coding": [{"system": V2_0203, "code": "PLAC"}]},
                    "value": result.placer_order_number,
                },
            }
        ]
    if result.interpretation.strip():
        # FHIR strings hold no control character but tab, CR, LF, and have no escape for one: left out
        report["conclusion"] = _CONTROL_CHARACTER.sub("", result.interpretation)
    entries.append((report_url, report))
    entries.extend((_urn(), provenance) for provenance in _provenances(result, report_url, interpreter_url))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": _instant(result.signed_at),
        "identifier": {
            "system": FILLER_SYSTEM,
            "value": f"{result.filler_order_number}-v{result.report_version}",
        },
        "entry": [
            {
                "fullUrl": url,
                "resource": resource,
                "request": entry_request(resource, result_key(seed)),
            }
            for url, resource in entries
        ],
    }
    Bundle.model_validate(bundle)  # raises on anything R4B would refuse: a bug of ours, not the user's
    return bundle


def _error(error: pydantic.ValidationError, source: str, prefix: str) -> InputError:
    first = error.errors()[0]
    # 'root' is fhir.resources' name for the value of an element as a whole (a BundleEntry that is a number)
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in {"__root__", "root"})
    return InputError(f"{prefix}.{where}" if where else prefix, str(first.get("msg", "invalid")), source)


#: Bundle types (R4 bundle-type) that send an order: to be processed (transaction, batch, message) or as a set
#: of resources (collection). A searchset or history is a server's answer (search matches and includes, past
#: versions) listing resources in whatever state they were: not a request to act on (it was taken as one).
ORDER_BUNDLE_TYPES = ("transaction", "batch", "message", "collection")

#: An order Bundle carries a ServiceRequest and the few resources it refers to; thousands of entries are not
#: an order (and validating 100,000 of them took 11 s and 600 MB).
MAX_ORDER_ENTRIES = 200


def _check_entries(entries: Any, source: str) -> None:
    """The Bundle's entries before fhir.resources reads them: a bounded list of resources of known types."""
    from fhir.resources.R4B import get_fhir_model_class

    if entries is None:
        return
    if not isinstance(entries, list):
        raise InputError("Bundle.entry", "expected a list of entries", source)
    if len(entries) > MAX_ORDER_ENTRIES:
        raise InputError("Bundle.entry", f"{len(entries)} entries; an order Bundle holds at most "
                                         f"{MAX_ORDER_ENTRIES}", source)
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind is None:
            continue  # fhir.resources names what is missing
        try:
            get_fhir_model_class(str(kind))
        except (KeyError, ValueError):
            raise InputError(f"Bundle.entry[{i}].resource.resourceType",
                             f"{str(kind)[:60]!r} is not an R4 resource type", source) from None


_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def parse_service_request(document: Any, source: str = "FHIR resource") -> OrderRequest:
    """A ServiceRequest (alone, or in a Bundle with its Patient and requester) as an :class:`OrderRequest`."""
    if not isinstance(document, dict):
        raise InputError("resourceType", "expected a JSON object (a ServiceRequest or a Bundle)", source)
    _refuse_control_characters(document, source)
    resources: list[dict[str, Any]] = []
    if document.get("resourceType") == "Bundle":
        _check_entries(document.get("entry"), source)
        try:
            Bundle.model_validate(document)
        except pydantic.ValidationError as error:
            raise _error(error, source, "Bundle") from None
        if document.get("type") not in ORDER_BUNDLE_TYPES:
            raise InputError("Bundle.type", f"a {document.get('type')!r} Bundle is not an order (a server's "
                             f"answer, not a request); send it as {', '.join(ORDER_BUNDLE_TYPES)}", source)
        seen: dict[str, int] = {}
        for i, entry in enumerate(document.get("entry") or []):
            resource = dict(entry.get("resource") or {})
            resource["_fullUrl"] = url = entry.get("fullUrl")
            if url in seen:  # bdl-7: a reference to it would name either resource
                why = f"{url!r} is the fullUrl of entry[{seen[url]}] too; each entry's is its own"
                raise InputError(f"Bundle.entry[{i}].fullUrl", why, source)
            if url:
                seen[url] = i
            resources.append(resource)
        requests = [r for r in resources if r.get("resourceType") == "ServiceRequest"]
        if len(requests) != 1:
            raise InputError("Bundle.entry", f"expected one ServiceRequest, found {len(requests)}", source)
        request = requests[0]
    elif document.get("resourceType") == "ServiceRequest":
        request = document
    else:
        raise InputError(
            "resourceType", f"expected ServiceRequest or Bundle, got {document.get('resourceType')!r}", source
        )
    clean = {k: v for k, v in request.items() if k != "_fullUrl"}
    try:
        ServiceRequest.model_validate(clean)
    except pydantic.ValidationError as error:
        raise _error(error, source, "ServiceRequest") from None
    resources.extend(request.get("contained") or [])
    status = request.get("status")
    if status not in _CONTROL:
        raise InputError(
            "ServiceRequest.status", f"status {status!r} is not one we act on ({', '.join(_CONTROL)})", source
        )
    if request.get("intent") not in {"order", "original-order", "filler-order", "instance-order"}:
        raise InputError("ServiceRequest.intent", f"intent {request.get('intent')!r} is not an order", source)
    if request.get("doNotPerform") is True:  # a modifier element: the request is that this is NOT done
        raise InputError("ServiceRequest.doNotPerform", "true: a request not to perform the service is "
                                                        "not an order to work", source)
    identifiers = [i for i in request.get("identifier") or [] if isinstance(i, dict)]
    placers = sorted({str(i.get("value")) for i in identifiers if "PLAC" in _types(i) and i.get("value")})
    if len(placers) > 1:  # the EHR changes and cancels by one of them; taking the first would be a guess
        raise InputError("ServiceRequest.identifier", f"{len(placers)} placer order numbers (type PLAC: "
                         f"{', '.join(p[:40] for p in placers[:3])}); send the one it is known by", source)
    placer = next((i.get("value") for i in identifiers if "PLAC" in _types(i)), None)
    # else an identifier of no type: a FILL (our number at another filler) or accession number is not the
    # number the EHR changes and cancels this order by
    placer = placer or next((i.get("value") for i in identifiers if not _types(i)), None)
    if not placer:
        raise InputError(
            "ServiceRequest.identifier", "the placer order number (identifier type PLAC) is missing", source
        )
    within(str(placer), MAX_ID, "ServiceRequest.identifier", source)
    subject = request.get("subject")
    patient = _order_patient(find_reference(resources, subject, "Patient", "ServiceRequest.subject", source),
                             source)
    requester_reference, where = request.get("requester"), "ServiceRequest.requester"
    requester = find_reference(resources, requester_reference, "Practitioner", where, source)
    role = find_reference(resources, requester_reference, "PractitionerRole", where, source)
    if requester is None and role is not None:  # the role's practitioner is who ordered
        requester = find_reference(resources, role.get("practitioner"), "Practitioner",
                          "PractitionerRole.practitioner", source)
    if requester is None and role is None:  # named by its NPI alone, or not in the message at all
        ordering = requester_by_npi(requester_reference, source) or _order_provider(None, source)
    else:
        ordering = _order_provider(requester, source)
    service, default_days = _order_service(request, source)
    indications = order_indications(request, resources, source)
    repeat = (request.get("occurrenceTiming") or {}).get("repeat") or {}
    duration = _duration_days(repeat.get("duration"), repeat.get("durationUnit"), source)
    authored = request.get("authoredOn")
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32]
    return OrderRequest(
        control=_CONTROL[status],
        message_id=f"fhir:{digest}",
        placer_order_number=str(placer),
        patient=patient,
        ordering=ordering,
        service=service,
        indications=indications,
        duration_days=duration or default_days,
        requested_at=_authored(authored, source) if authored else None,
        priority=_order_priority(request.get("priority"), source),
        source=source,
        notes=tuple(n.get("text", "") for n in request.get("note") or [] if n.get("text")),
    )


def _order_priority(value: Any, source: str) -> OrderPriority:
    """ServiceRequest.priority; fhir.resources checks only that it is a code, not that it is one of the four
    of its required value set."""
    if value is None:
        return OrderPriority.ROUTINE
    try:
        return OrderPriority(value)
    except ValueError:
        raise InputError("ServiceRequest.priority", f"priority {value!r} is not one of "
                                                    f"{', '.join(OrderPriority)}", source) from None


def _order_patient(resource: dict[str, Any] | None, source: str) -> PatientInfo:
    if resource is None:
        raise InputError("ServiceRequest.subject", "the Patient it references is not in the message", source)
    mrn = _record_number(resource, source)
    within(str(mrn["value"]), MAX_ID, "Patient.identifier", source)
    name = _official_name(resource)
    if not name.get("family"):
        raise InputError("Patient.name", "the patient's family name is missing", source)
    birth = resource.get("birthDate")
    try:
        birth_date = date.fromisoformat(birth) if isinstance(birth, str) and len(birth) == 10 else None
    except ValueError:
        birth_date = None
    if birth_date is None:
        raise InputError("Patient.birthDate", f"expected a full date YYYY-MM-DD, got {birth!r}", source)
    gender = resource.get("gender")
    if gender is not None and gender not in _GENDER_BACK:  # fhir.resources checks only that it is a code
        raise InputError("Patient.gender", f"{str(gender)[:40]!r} is not one of {', '.join(_GENDER_BACK)}",
                         source)
    system = str(mrn.get("system") or "")
    # urn:oid:2.16.840.1.113883.19.5 -> the OID; a URL (http://hospital.example.org/mrn) stays whole
    named = (system.rsplit(":", 1)[-1] if system.startswith("urn:") else system) or None
    patient = PatientInfo(
        str(mrn["value"]),
        name["family"],
        " ".join(name.get("given") or []),
        birth_date,
        _GENDER_BACK.get(resource.get("gender", "unknown"), "U"),
        named,
        system or None,
    )
    within(patient.display, MAX_NAME, "Patient.name", source)
    return patient


def _types(identifier: dict[str, Any]) -> set[str]:
    """The codes of an identifier's type (v2-0203: MR, PLAC, SS ...)."""
    codings = (identifier.get("type") or {}).get("coding") or []
    return {str(c.get("code")).upper() for c in codings if isinstance(c, dict) and c.get("code")}


#: Identifier systems of national, insurance and document numbers (never a record number).
_NATIONAL_SYSTEMS = ("http://hl7.org/fhir/sid/us-ssn", "http://hl7.org/fhir/sid/us-mbi",
                     "http://hl7.org/fhir/sid/us-medicare", "http://hl7.org/fhir/sid/us-npi",
                     "http://hl7.org/fhir/sid/passport-", "urn:oid:2.16.840.1.113883.4.1")


def _record_number(resource: dict[str, Any], source: str) -> dict[str, Any]:
    """The Patient.identifier that is the record number, chosen as PID-3 is: by type (MR, then PI ...),
    else the first that is neither typed nor registered as a national, insurance or document number."""
    identifiers = [i for i in resource.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    for kind in RECORD_NUMBER_TYPES:
        typed = next((i for i in identifiers if kind in _types(i)), None)
        if typed is not None:
            return typed
    usable = [
        i for i in identifiers
        if all(is_record_number_type(code) for code in _types(i))
        and not str(i.get("system") or "").startswith(_NATIONAL_SYSTEMS)
    ]
    if not usable:
        found = "only national, insurance or document numbers" if identifiers else "no identifier"
        raise InputError("Patient.identifier", f"the patient has {found}, no medical record number", source)
    return usable[0]


def _order_provider(resource: dict[str, Any] | None, source: str) -> Provider:
    if resource is None:
        raise InputError(
            "ServiceRequest.requester", "the requesting Practitioner is not in the message", source
        )
    npi = next(
        (i.get("value") for i in resource.get("identifier") or [] if i.get("system") == NPI_SYSTEM), None
    )
    if not npi:
        raise InputError("Practitioner.identifier", f"the requester has no NPI (system {NPI_SYSTEM})", source)
    name = _official_name(resource)
    provider = Provider(str(npi), name.get("family", ""), " ".join(name.get("given") or []))
    within(provider.display, MAX_NAME, "Practitioner.name", source)
    return provider


#: HumanName.use in the order a name is taken: the official one, else the usual one, else one without a use.
_NAME_USES = ("official", "usual", None)


def _official_name(resource: dict[str, Any]) -> dict[str, Any]:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    for use in _NAME_USES:
        found = next((n for n in names if n.get("use") == use), None)
        if found is not None:
            return found
    return next((n for n in names if n.get("use") not in {"old", "nickname", "anonymous", "maiden"}),
                names[0] if names else {})


def _order_service(request: dict[str, Any], source: str) -> tuple[str, float | None]:
    """(service, default days) from the first CPT or LOINC coding of ``code`` that is an orderable service."""
    codings = [c for c in (request.get("code") or {}).get("coding") or [] if isinstance(c, dict)]
    codes = [str(c.get("code") or "") for c in codings if c.get("system") in {CPT, LOINC}]
    if not codes:
        shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or "none"
        raise InputError("ServiceRequest.code", f"no CPT ({CPT}) or LOINC ({LOINC}) coding (codings: "
                                                f"{shown[:200]})", source)
    return first_orderable(codes, "ServiceRequest.code", source)


def _authored(value: str, source: str) -> datetime:
    """``authoredOn`` (a FHIR dateTime: YYYY, YYYY-MM, YYYY-MM-DD or a full time with its offset) in UTC;
    a partial date is its first day, a time without an offset is taken as UTC."""
    try:
        if re.fullmatch(r"\d{4}", value):
            stamp = datetime(int(value), 1, 1)
        elif re.fullmatch(r"\d{4}-\d{2}", value):
            stamp = datetime(int(value[:4]), int(value[5:7]), 1)
        else:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError("ServiceRequest.authoredOn", f"not a FHIR dateTime: {value!r}", source) from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _duration_days(value: Any, unit: Any, source: str) -> float | None:
    if value is None:
        return None
    factor = {"d": 1.0, "h": 1 / 24, "wk": 7.0}.get(str(unit))
    if factor is None or not isinstance(value, int | float) or not 0 < value < 1000:
        raise InputError(
            "ServiceRequest.occurrenceTiming.repeat.duration",
            f"expected a duration in d, h or wk, got {value!r} {unit!r}",
            source,
        )
    return round(float(value) * factor, 4)
