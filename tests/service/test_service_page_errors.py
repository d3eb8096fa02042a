"""The workstation's pages answer a browser in HTML, errors included: a bad value in a page's address or form
is a page naming the parameter and the reason (the JSON API keeps its JSON 422). SQLite and PostgreSQL."""

from __future__ import annotations

from service_builders import Api

#: (user, page address, parameter the page must name, reason it must give)
BAD_ADDRESSES = (
    ("biller.t", "/claims?claims_offset=-1", "claims_offset", "greater than or equal to 0"),
    ("biller.t", "/claims?unmatched_offset=abc", "unmatched_offset", "valid integer"),
    ("admin.t", "/admin/users?offset=abc", "offset", "valid integer"),
    ("admin.t", "/admin/audit?offset=-5", "offset", "greater than or equal to 0"),
    ("admin.t", "/admin/audit?user=%00", "user", "NUL character"),
    ("tech.t", "/monitoring?offset=1e3", "offset", "valid integer"),
    ("tech.t", "/studies/abc", "study_id", "valid integer"),
)


def test_a_bad_page_address_is_an_html_page_naming_the_parameter(api: Api) -> None:
    for user, url, name, reason in BAD_ADDRESSES:
        api.login(user)
        page = api.client.get(url)
        assert page.status_code == 422, (url, page.status_code)
        assert page.headers["content-type"].startswith("text/html"), (url, page.text[:200])
        assert "Content-Security-Policy" in page.headers
        assert "<h1>Not a valid page address</h1>" in page.text, (url, page.text)
        assert f"<strong>{name}</strong>" in page.text and reason in page.text, (url, page.text)
    # the JSON API keeps its JSON 422 naming the field
    answer = api.client.get("/api/v1/monitoring/queue?offset=-1")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "offset"]


def test_a_bad_value_in_the_login_form_is_a_page_naming_the_field(api: Api) -> None:
    """The login form without scripts posts to /login: a user name over 64 characters was raw JSON."""
    api.client.cookies.clear()
    page = api.client.post("/login", data={"username": "x" * 65, "password": "secret"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Not valid input</h1>" in page.text and "<strong>username</strong>" in page.text
    assert "at most 64 characters" in page.text and "secret" not in page.text  # never echoes the input


def test_a_login_form_that_cannot_be_read_is_a_page(api: Api) -> None:
    """A /login post whose form cannot be parsed (multipart without a boundary, over 1000 fields) or is over
    the body limit while it streams was the API's raw JSON (422, 413): now an HTML page saying why."""
    api.client.cookies.clear()
    fields = b"&".join(b"k%d=v" % i for i in range(1001))
    oversized = (b"username=" + b"x" * 1024 for _ in range(2100))  # sent chunked: no declared length
    for body, kind, status, said in (
        (b"garbage", "multipart/form-data", 422, "Missing boundary"),
        (fields, "application/x-www-form-urlencoded", 422, "Too many fields"),
        (oversized, "application/x-www-form-urlencoded", 413, "over the limit of 2097152 bytes"),
    ):
        page = api.client.post("/login", content=body, headers={"Content-Type": kind})
        assert page.status_code == status, (kind, page.status_code, page.text[:200])
        assert page.headers["content-type"].startswith("text/html"), page.text[:200]
        assert "Content-Security-Policy" in page.headers and said in page.text, page.text


def test_the_refusal_page_names_each_role_in_words(api: Api) -> None:
    """The 403 page said "'admin.t' is a admin": each role now reads as a noun with its article."""
    for user, page, said in (("admin.t", "/signing", "is an administrator;"), ("tech.t", "/admin/users",
                             "is a technician;"), ("dr.t", "/claims", "is a physician;"),
                             ("biller.t", "/signing", "is a biller;")):
        api.login(user)
        refused = api.client.get(page)
        assert refused.status_code == 403 and "Not for your role" in refused.text, (user, page)
        assert f"{user}&#39; {said}" in refused.text and "is a admin" not in refused.text, refused.text
