"""Claims over HTTP: the same workflow functions as the CLI behind the permission table; broken X12 is a
422 naming the segment and reason, and nothing is posted."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from claims_builders_for_service import claims_for_service
from service_builders import ORDERING_NPI, PIN, STUDY, Api, upload
from test_service_permissions import BILLING

from conftest import shared_path
from ecgdesk.claims.payer_sim import Parties, PayerProfile, adjudicate, write_835, write_ta1
from ecgdesk.workflow.claims_demo import demo_billing
from ecgdesk.workflow.claims_inbound import unmatched


def test_billing_set_up_and_empty_queues(api: Api) -> None:
    headers = api.login("biller.t")
    assert api.client.put("/api/v1/billing", json=BILLING, headers=headers).status_code == 200
    bad = {**BILLING, "address1": "PO Box 9"}
    answer = api.client.put("/api/v1/billing", json=bad, headers=headers)
    assert answer.status_code == 422 and "post office box" in answer.text
    payer = {"name": "Medicare", "payer_id": "12345", "filing_indicator": "MB", "rules_id": "medicare-mac"}
    assert api.client.post("/api/v1/billing/payers", json=payer, headers=headers).status_code == 201
    shown = api.client.get("/api/v1/billing", headers=headers).json()
    assert shown["billing"]["npi"] == "1234567893" and shown["payers"][0]["rules"] == "medicare-mac"
    assert api.client.get("/api/v1/claims", headers=headers).json() == []
    assert api.client.get("/api/v1/denials", headers=headers).json() == []
    assert api.client.get("/api/v1/ar/aging", headers=headers).json()["total"]["total"] == "0.00"
    assert api.client.get("/api/v1/claims/ECG0000009", headers=headers).status_code == 404
    assert api.client.get("/api/v1/claims/ECG0000009/837p", headers=headers).status_code == 404
    missing = api.client.get("/api/v1/studies/999/claims", headers=headers)
    assert missing.status_code == 404 and "no study 999" in missing.text


@pytest.mark.shared_data
def test_broken_835_is_a_422_naming_the_segment(api: Api) -> None:
    headers = api.login("biller.t")
    body = shared_path("x12", "linuxforhealth", "835", "managed-care.835").read_bytes()
    answer = api.client.post(
        "/api/v1/remittances", content=body, headers={**headers, "Content-Type": "text/plain"}
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert "segment 4 BPR16" in detail["loc"][-1] and "not a valid date" in detail["msg"]
    # the body is kept as a file under the server's home: the answer names the file, not the server's folders
    assert detail["loc"][0].startswith("835-") and "/" not in detail["loc"][0]
    assert unmatched(api.store, "test") == []


def test_an_835_for_claims_never_sent_goes_to_the_unmatched_queue(api: Api) -> None:
    headers = api.login("biller.t")
    parties = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")
    text = write_835(
        adjudicate(claims_for_service(), PayerProfile("MEDICARE", "12345")),
        parties,
        "EFT77",
        date(2026, 12, 1),
    )
    answer = api.client.post(
        "/api/v1/remittances",
        content=text.encode(),
        headers={**headers, "Content-Type": "application/edi-x12"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["posted"] == 0 and [u["claim_id"] for u in result["unmatched"]] == ["SVC0000001"]
    again = api.client.post("/api/v1/remittances", content=text.encode(), headers=headers).json()
    assert again["duplicates"] and again["unmatched"] == []
    listed = api.client.get("/api/v1/remittances/unmatched", headers=headers).json()
    assert [u["claim_id"] for u in listed] == ["SVC0000001"]
    assert api.client.get("/api/v1/remittances/unmatched", headers=api.login("tech.t")).status_code == 403


def test_claims_desk_page_for_the_biller_only(api: Api) -> None:
    api.login("biller.t")
    page = api.client.get("/claims")
    assert page.status_code == 200
    for part in ('data-testid="denial-items"', "No open denial items.", 'data-testid="ar-aging"'):
        assert part in page.text
    assert 'id="payer-file-form"' in page.text and 'href="/claims"' in page.text
    assert "No claims yet." in page.text
    for user in ("tech.t", "dr.t", "admin.t"):
        api.login(user)
        refused = api.client.get("/claims")
        assert refused.status_code == 403 and 'href="/claims"' not in refused.text


def _unmatched_835(api: Api, trace: str, headers: dict[str, str]) -> None:
    parties = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")
    text = write_835(
        adjudicate(claims_for_service(), PayerProfile("MEDICARE", "12345")), parties, trace, date(2026, 12, 1)
    )
    answer = api.client.post(
        "/api/v1/remittances",
        content=text.encode(),
        headers={**headers, "Content-Type": "application/edi-x12"},
    )
    assert answer.status_code == 200 and answer.json()["unmatched"], answer.text


def test_the_claims_desk_pages_its_lists(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each list of the desk is one page (its own offset in the query; the links keep the other lists'
    offsets): the desk read every denial item, claim and unmatched payment of the database."""
    from ecgdesk.service.routers import billing_page

    asked: dict[str, tuple[int, int | None]] = {}

    def spy(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            asked[name] = (kwargs.get("offset", 0), kwargs.get("limit"))
            return real(*args, **kwargs)

        return call

    for name in ("list_denials", "list_claims", "unmatched"):
        monkeypatch.setattr(billing_page, name, spy(name, getattr(billing_page, name)))
    monkeypatch.setattr(billing_page, "DESK_PAGE", 1)
    headers = api.login("biller.t")
    for trace in ("EFT81", "EFT82"):
        _unmatched_835(api, trace, headers)
    first = api.client.get("/claims?claims_offset=3&denials_offset=2")
    assert first.status_code == 200
    assert asked == {"list_denials": (2, 1), "list_claims": (3, 1), "unmatched": (0, 1)}
    assert first.text.count("SVC0000001") == 1  # one of the two unmatched payments
    assert 'href="/claims?denials_offset=2&amp;claims_offset=3&amp;unmatched_offset=1"' in first.text
    second = api.client.get("/claims?claims_offset=3&denials_offset=2&unmatched_offset=1")
    assert second.text.count("SVC0000001") == 1 and "Rows 2–2 of 2" in second.text
    assert 'href="/claims?denials_offset=2&amp;claims_offset=3"' in second.text  # back to the first page
    assert api.client.get("/claims?claims_offset=-1").status_code == 422
    # a list past its end (its last rows worked since the link was made): to that list's last page, the
    # other lists kept where they were (the page showed no unmatched payments at all with two waiting)
    past = api.client.get("/claims?claims_offset=3&unmatched_offset=5", follow_redirects=False)
    assert past.status_code == 303
    assert past.headers["location"] == "/claims?claims_offset=3&unmatched_offset=1"


def _new_claim(api: Api, tiny_files: list[Path]) -> tuple[int, str]:
    """A signed, coded study billed over HTTP: its id and its claim's id (the biller logged in)."""
    headers = api.login("tech.t")
    study_id = api.client.post("/api/v1/studies", json=STUDY, headers=headers).json()["id"]
    assert getattr(upload(api, study_id, tiny_files), "status_code", None) == 202
    api.wait()
    demo_billing(api.store, STUDY["patient_id"], ORDERING_NPI, "admin.t")
    headers = api.login("dr.t")
    base = f"/api/v1/studies/{study_id}"
    reading = {"text": "Sinus rhythm."}
    assert api.client.post(f"{base}/interpretation", json=reading, headers=headers).is_success
    assert api.client.post(f"{base}/sign", json={"password": PIN}, headers=headers).is_success
    headers = api.login("biller.t")
    assert api.client.post(f"{base}/coding", headers=headers).status_code == 200
    made = api.client.post("/api/v1/claims", json={"study_id": study_id}, headers=headers)
    assert made.status_code == 201, made.text
    return study_id, made.json()["claim_id"]


def test_a_new_claim_reads_back_as_its_documented_shape(api: Api, tiny_files: list[Path]) -> None:
    """GET /api/v1/claims/{id} and /studies/{id}/claims were a 500 for every claim (found by a long
    schemathesis run): the lines carry denial_overturned, which the response model lacked, and the first
    move of the history (the claim made) has no 'before'. Both answers now match /openapi.json."""
    study_id, claim_id = _new_claim(api, tiny_files)
    base = f"/api/v1/studies/{study_id}"
    document = schemathesis.openapi.from_dict(api.app.openapi())
    shown = api.client.get(f"/api/v1/claims/{claim_id}")
    assert shown.status_code == 200, shown.text
    document["/api/v1/claims/{claim_id}"]["GET"].validate_response(shown)
    detail = shown.json()
    assert [line["denial_overturned"] for line in detail["lines"]] == ["0.00"] * len(detail["lines"])
    assert detail["history"][0]["before"] is None and detail["history"][0]["after"]
    listed = api.client.get(f"{base}/claims")
    assert listed.status_code == 200 and [c["summary"]["claim_id"] for c in listed.json()] == [claim_id]
    document["/api/v1/studies/{study_id}/claims"]["GET"].validate_response(listed)


def test_an_export_names_its_files_without_the_server_s_folders(api: Api, tiny_files: list[Path]) -> None:
    """POST /api/v1/claims/export answered each file's absolute path on the server (found by a long
    schemathesis run): the biller gets the file's name and the URL that downloads it (audited, the
    biller's role), and the answer matches /openapi.json."""
    _, claim_id = _new_claim(api, tiny_files)
    headers = api.csrf
    answer = api.client.post("/api/v1/claims/export", json={"claims": [claim_id]}, headers=headers)
    assert answer.status_code == 200, answer.text
    schemathesis.openapi.from_dict(api.app.openapi())["/api/v1/claims/export"]["POST"].validate_response(answer)
    [file] = answer.json()["files"]
    assert str(api.store.home) not in answer.text and "path" not in file
    assert "/" not in file["name"] and file["name"].endswith(".x12") and file["claims"] == [claim_id]
    assert file["download_url"] == f"/api/v1/claims/{claim_id}/837p"
    download = api.client.get(file["download_url"])
    assert download.status_code == 200 and download.text == file["x12"]
    assert file["name"] in download.headers["content-disposition"]
    # the clearinghouse's TA1 on that interchange (ISA13): read as the CLI reads it (until 2026-12-07 a
    # 422 "is not read"); one naming an interchange we never sent is a 422 naming TA101
    isa13 = int(file["x12"].split("~")[0].split("*")[13])
    parties = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")
    x12 = {**headers, "Content-Type": "text/plain"}
    acks = "/api/v1/claims/acks"
    unknown = api.client.post(acks, content=write_ta1(isa13 + 50, "R", "022", parties), headers=x12)
    assert unknown.status_code == 422 and "TA101" in unknown.json()["detail"][0]["loc"][-1]
    rejected = api.client.post(acks, content=write_ta1(isa13, "R", "022", parties), headers=x12)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["kind"] == "TA1" and rejected.json()["claims"][0]["status"] == "rejected"
    api.login("tech.t")
    assert api.client.get(file["download_url"]).status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/remittances", "/api/v1/claims/acks"])
def test_the_x12_routes_declare_their_body(api: Api, path: str) -> None:
    """The X12 file is the request body of these routes; /openapi.json declared none, so clients and
    schemathesis never learnt what to send (found by a long schemathesis run). Declared now, required,
    as text in either content type, and what a client sends as declared is read as X12."""
    body = api.app.openapi()["paths"][path]["post"].get("requestBody")
    assert body is not None and body["required"] is True
    assert set(body["content"]) == {"application/edi-x12", "text/plain"}
    assert all(c["schema"]["type"] == "string" for c in body["content"].values())
    headers = api.login("biller.t")
    answer = api.client.post(path, content=b"ISA*00~", headers={**headers, "Content-Type": "text/plain"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["msg"], answer.text


def test_a_payer_file_sent_again_never_shows_half_written_to_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An X12 body is kept under a name of its content's digest, so the same 835 posted twice at once
    (a double click) went to one file: the second request truncated and rewrote it while the first was
    reading it, and the first refused a good file as broken X12. The second now writes a file of its own
    and puts it in place whole."""
    import anyio

    from ecgdesk.service.routers.claims import _x12_file

    data = b"ISA*00*" + b"X" * 4000 + b"~IEA*1*000000001~"

    class Body:
        async def body(self) -> bytes:
            return data

    home = SimpleNamespace(home=tmp_path)
    first = anyio.run(_x12_file, Body(), home, "835")
    seen: list[bytes] = []
    write = Path.write_bytes

    def halfway(self: Path, content: bytes) -> int:  # the first request reads while this one writes
        write(self, content[: len(content) // 2])
        seen.append(first.read_bytes())
        return write(self, content)

    monkeypatch.setattr(Path, "write_bytes", halfway)
    second = anyio.run(_x12_file, Body(), home, "835")
    assert seen == [data] and second == first and first.read_bytes() == data
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # nothing else left behind
