"""A FHIR server double on loopback that keeps what transactions write: plain, conditional creates
(``ifNoneExist``) and conditional updates (``PUT Type?search``) as FHIR R4 3.1.0.8-3.1.0.11 describe them, the
``urn:uuid`` references of a Bundle rewritten to the ids the server gave, and searches by ``identifier`` (a
token ``system|value``), ``recorded`` and the chain ``target:DiagnosticReport.identifier``. A search it does
not know is answered 400, as HAPI answers one, so a request the double would silently misread fails the test.

``lose_answers``: how many of the next transactions are stored but not answered (the connection closes
first), as when a proxy or the network drops the answer of a server that took the Bundle; ``refuse``: how
many are answered 503 and not stored (the server down for maintenance behind its proxy).
"""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl

from fhir.resources.R4B.bundle import Bundle


class FhirDouble:
    def __init__(self) -> None:
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.lose_answers = 0
        self.refuse = 0
        self.transactions = 0
        self._ids = itertools.count(1)
        self.url = ""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return list(self.resources.get(kind, {}).values())

    def search(self, kind: str, query: str) -> list[str]:
        """The ids of the ``kind`` resources matching every parameter of ``query``."""
        found = []
        for resource_id, resource in self.resources.get(kind, {}).items():
            asked = parse_qsl(query, strict_parsing=True)
            if all(self._matches(resource, name, value) for name, value in asked):
                found.append(resource_id)
        return found

    def _matches(self, resource: dict[str, Any], name: str, value: str) -> bool:
        if name == "identifier":
            system, bar, code = _unescaped_split(value)
            return any(i.get("value") == code and (not bar or i.get("system") == system)
                       for i in _listed(resource.get("identifier")))
        if name == "recorded":
            return resource.get("recorded") == value
        if name == "target:DiagnosticReport.identifier":
            found = self.search("DiagnosticReport", f"identifier={value}")
            reports = {f"DiagnosticReport/{i}" for i in found}
            return any(t.get("reference") in reports for t in resource.get("target", []))
        raise LookupError(f"unknown search parameter {name!r}")

    def transact(self, bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply a transaction Bundle at once (every condition is read before anything is written, so the
        order of the entries does not matter): (HTTP status, transaction-response or OperationOutcome)."""
        Bundle.model_validate(bundle)
        plans, names = [], {}
        for entry in bundle["entry"]:
            resource, request = entry["resource"], entry["request"]
            kind = resource["resourceType"]
            query = request["url"].partition("?")[2]
            condition = query or request.get("ifNoneExist", "")
            try:
                matches = self.search(kind, condition) if condition else []
            except LookupError as error:
                return 400, _outcome(str(error))
            if len(matches) > 1:
                return 412, _outcome(f"{request['url']}: {len(matches)} matches")
            existing = matches[0] if matches else None
            write = request["method"] == "PUT" or existing is None
            resource_id = existing or str(next(self._ids))
            names[entry["fullUrl"]] = f"{kind}/{resource_id}"
            plans.append((kind, resource_id, resource, write, existing is None))
        answers = []
        for kind, resource_id, resource, write, created in plans:
            stored = self.resources.setdefault(kind, {})
            if write:
                version = 1 if created else int(stored[resource_id]["meta"]["versionId"]) + 1
                stored[resource_id] = {**_relinked(resource, names), "id": resource_id,
                                       "meta": {"versionId": str(version)}}
            version = stored[resource_id]["meta"]["versionId"]
            answers.append({"response": {"status": "201 Created" if write and created else "200 OK",
                                         "location": f"{kind}/{resource_id}/_history/{version}"}})
        self.transactions += 1
        return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}


def _listed(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def _unescaped_split(token: str) -> tuple[str, bool, str]:
    """A token search value split at its first ``|`` that is not escaped, each part unescaped."""
    parts = re.split(r"(?<!\\)\|", token, maxsplit=1)
    plain = [re.sub(r"\\(.)", r"\1", part) for part in parts]
    return (plain[0], True, plain[1]) if len(plain) == 2 else ("", False, plain[0])


def _relinked(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: names.get(v, v) if k == "reference" else _relinked(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_relinked(v, names) for v in value]
    return value


def _outcome(text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing",
                                                            "diagnostics": text}]}


@contextmanager
def serving() -> Iterator[FhirDouble]:
    double = FhirDouble()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bundle = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                if double.refuse:
                    double.refuse -= 1
                    status, answer = 503, _outcome("down for maintenance")
                else:
                    status, answer = double.transact(bundle)
                if double.lose_answers and status == 200:
                    double.lose_answers -= 1
                    self.close_connection = True
                    return
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    double.url = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
