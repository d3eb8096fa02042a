"""A result Bundle POSTed to a FHIR server, and what its answer says: delivered, or a failed attempt (why).

A 2xx status alone does not say the Bundle was stored. A server may answer 200 with an OperationOutcome
whose issues are errors (the Bundle was refused, FHIR R4 3.1.0.4: "an OperationOutcome ... with an
error"), a transaction-response whose entries did not succeed, or something that is not FHIR at all (a
proxy's or single sign-on gateway's HTML page, answered 200 in place of the server), and a redirect followed
by urllib as a GET without the Bundle is answered 200 with whatever that URL shows: none of these is a
delivery, and counting it one loses the result for good. A delivery is a transaction-response (or an empty
answer, or an OperationOutcome without errors). A FHIR answer in XML (a server that ignores our
``Accept``) is read for an OperationOutcome error only.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

from ecgdesk.interop.mllp import DeliveryError

#: what is read of an answer; a transaction-response is a few kilobytes (we ask for ``return=minimal``)
MAX_ANSWER = 16 * 2**20
_SHOWN = 300
_XML_ERROR = re.compile(r"<severity\s+value=\"(error|fatal)\"")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _issues(outcome: dict[str, Any]) -> list[str]:
    """The error and fatal issues of an OperationOutcome, each as its text and the element it names."""
    found = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict) or issue.get("severity") not in {"error", "fatal"}:
            continue
        details = _object(issue.get("details"))
        text = str(issue.get("diagnostics") or details.get("text") or issue.get("code") or "error")
        where = issue.get("expression") or issue.get("location") or []
        found.append(f"{text} (at {', '.join(map(str, where))})" if where else text)
    return found


def summary(body: bytes) -> str:
    """A refusal's body in words: the OperationOutcome's error issues where it is one, else its start."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("resourceType") == "OperationOutcome":
        issues = _issues(document)
        if issues:
            return "OperationOutcome: " + "; ".join(issues)[:1000]
    return repr(body[:_SHOWN])


def receipt(status: int, content_type: str, body: bytes) -> str:
    """The receipt of a 2xx answer that says the Bundle was taken; raises :class:`DeliveryError` where the
    answer says it was not, or is not FHIR."""
    head = f"HTTP {status}"
    if len(body) > MAX_ANSWER:
        return f"{head} (answer over {MAX_ANSWER // 2**20} MiB, not read)"
    text = body.strip()
    if not text:
        return head  # a server answering return=minimal to the letter: nothing said against it
    if text.startswith(b"<") and "fhir" in content_type.lower():
        if _XML_ERROR.search(text.decode("utf-8", "replace")):
            raise DeliveryError(f"FHIR server answered {head} with an OperationOutcome error (XML): "
                                f"{text[:_SHOWN]!r}")
        return f"{head} (FHIR XML answer)"
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        raise DeliveryError(f"FHIR server answered {head} with something that is not FHIR "
                            f"({content_type or 'no Content-Type'}: {text[:_SHOWN]!r}): not counted as "
                            "delivered (a proxy or login page in front of the server?)")
    kind = document["resourceType"]
    if kind == "OperationOutcome":
        issues = _issues(document)
        if issues:
            raise DeliveryError(f"FHIR server answered {head} with an OperationOutcome error: "
                                + "; ".join(issues)[:1000])
        return f"{head} OperationOutcome without errors"
    if kind != "Bundle" or document.get("type") not in {"transaction-response", "batch-response"}:
        # e.g. the CapabilityStatement or searchset of a GET: no answer to a transaction says it was taken
        shown = f"{kind} {document.get('type') or ''}".strip()[:80]
        raise DeliveryError(f"FHIR server answered {head} with a {shown}, not a transaction-response: not "
                            "counted as delivered")
    entries = [e for e in document.get("entry") or [] if isinstance(e, dict)]
    for index, entry in enumerate(entries):
        answer = _object(entry.get("response"))
        if not str(answer.get("status") or "").strip().startswith("2"):
            why = "; ".join(_issues(_object(answer.get("outcome")))) or "no reason given"
            raise DeliveryError(f"FHIR server answered {head}, but entry {index} of its "
                                f"{document['type']} has status {answer.get('status')!r}: {why}"[:1200])
    locations = [str(_object(e.get("response")).get("location") or "") for e in entries]
    where = next((at for at in locations if "DiagnosticReport" in at), "")
    return f"{head} {document['type']}, {len(entries)} entries" + (f", {where[:300]}" if where else "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not followed: urllib follows a 301/302/303 to a POST with a GET without the
    Bundle, whose 200 (the server's CapabilityStatement, an http-to-https redirect's page) was counted as the
    delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _read_within(response: http.client.HTTPResponse, deadline: float, timeout_s: float) -> bytes:
    """The answer's body (up to MAX_ANSWER + 1 bytes) by the deadline: the timeout bounds each read, so a
    server sending its answer a byte at a time held the deliverer, and every result behind, for good."""
    body = bytearray()
    while len(body) <= MAX_ANSWER:
        if time.monotonic() > deadline:
            raise DeliveryError(f"FHIR server sent no whole answer within {timeout_s:g} s "
                                f"({len(body)} bytes so far)")
        chunk = response.read1(65536)
        if not chunk:
            break
        body += chunk
    return bytes(body[:MAX_ANSWER + 1])


def post(address: str, bundle: bytes, timeout_s: float = 30.0) -> str:
    """POST a transaction Bundle to the server's base URL; the receipt, or :class:`DeliveryError`."""
    request = urllib.request.Request(
        address.rstrip("/"),
        data=bundle,
        method="POST",
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
                 "Prefer": "return=minimal"},
    )
    try:
        deadline = time.monotonic() + timeout_s
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout_s) as response:
            body = _read_within(response, deadline, timeout_s)
            return receipt(response.status, response.headers.get("Content-Type", ""), body)
    except urllib.error.HTTPError as error:
        moved = error.headers.get("Location") if 300 <= error.code < 400 else None
        answer = (f"moved to {moved!r}: give the target that address" if moved
                  else summary(error.read(MAX_ANSWER)))
        raise DeliveryError(f"FHIR server answered HTTP {error.code}: {answer}"[:1200]) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        # HTTPException: an answer that is not HTTP at all (BadStatusLine), or one cut short (IncompleteRead);
        # it escaped the deliverer before, which stopped with the item leased and unsent
        raise DeliveryError(f"FHIR server {address}: {type(error).__name__}: {error}"[:1000]) from None
