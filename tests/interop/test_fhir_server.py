"""What a FHIR server's 2xx answer to a result Bundle says: taken, or not (fhir_server.receipt)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ecgdesk.interop.fhir_server import post, receipt, summary
from ecgdesk.interop.mllp import DeliveryError

WARNING = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "informational"}]}
XML_ERROR = b'<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/></issue>' \
            b'</OperationOutcome>'


@pytest.mark.parametrize(("content_type", "body", "taken"), [
    ("application/fhir+json", b"", "HTTP 200"),
    ("application/fhir+json", json.dumps(WARNING).encode(), "HTTP 200 OperationOutcome without errors"),
    ("application/fhir+xml", b'<Bundle xmlns="http://hl7.org/fhir"/>', "HTTP 200 (FHIR XML answer)"),
    ("application/fhir+xml", XML_ERROR, None),
    ("text/html", b"<!DOCTYPE html><title>Proxy</title>", None),
    ("application/json", b'{"ok": true}', None),
    # what a GET of the base URL shows, where urllib followed a redirect of the POST without the Bundle
    ("application/fhir+json", b'{"resourceType": "CapabilityStatement", "status": "active"}', None),
    ("application/fhir+json", b'{"resourceType": "Bundle", "type": "searchset", "total": 0}', None),
    ("application/fhir+json", b'{"resourceType": "Bundle", "type": "transaction-response", '
                              b'"entry": [{"response": {}}]}', None),
    ("application/fhir+json", b'{"resourceType": "Bundle", "type": "transaction-response", "entry": ['
                              b'{"response": {"status": "201 Created"}}, {"response": {"status": "422"}}]}',
     None),
    ("application/fhir+json", b'{"resourceType": "Bundle", "type": "transaction-response", "entry": ['
                              b'{"response": {"status": "201 Created", "location": "DiagnosticReport/5"}}]}',
     "HTTP 200 transaction-response, 1 entries, DiagnosticReport/5"),
])
def test_a_2xx_answer_is_a_delivery_only_when_it_says_so(
    content_type: str, body: bytes, taken: str | None
) -> None:
    if taken is not None:
        assert receipt(200, content_type, body) == taken
    else:
        with pytest.raises(DeliveryError):
            receipt(200, content_type, body)


def test_a_refusal_is_shown_by_its_error_issues() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "information", "code": "informational", "diagnostics": "read"},
        {"severity": "fatal", "code": "structure", "details": {"text": "bad Bundle"},
         "location": ["Bundle"]}]}
    assert summary(json.dumps(outcome).encode()) == "OperationOutcome: bad Bundle (at Bundle)"
    assert summary(b"<html>Bad Gateway</html>") == "b'<html>Bad Gateway</html>'"


class _Trickling(http.server.BaseHTTPRequestHandler):
    """A 200 whose body comes a byte at a time, each well within the timeout."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", "30")
        self.end_headers()
        try:
            for _ in range(30):
                self.wfile.write(b" ")
                self.wfile.flush()
                threading.Event().wait(0.1)
        except OSError:  # the deliverer gave up and closed
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_an_answer_that_never_ends_within_the_timeout_is_a_failed_attempt() -> None:
    """The timeout bounded each read only: a server (or proxy) sending a byte at a time held the deliverer,
    and every result queued behind the item, for as long as it kept sending."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(DeliveryError, match=r"no whole answer within 0\.5 s"):
            post(f"http://127.0.0.1:{server.server_address[1]}/fhir", b"{}", timeout_s=0.5)
    finally:
        server.shutdown()
        server.server_close()
