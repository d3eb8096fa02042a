"""Review and signature rules: password re-entered, reviewed content only, addenda never overwrite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ecgdesk.errors import AuthenticationError, InputError, PermissionDeniedError
from ecgdesk.store import Store, open_store, verify
from ecgdesk.store.enums import EditKind
from ecgdesk.store.models import AuditEntry, ReportVersion, Signature
from ecgdesk.workflow.analysis import analyze_study, edit_beats
from ecgdesk.workflow.beat_edits import edit_and_report
from ecgdesk.workflow.lifecycle import get_study
from ecgdesk.workflow.report_files import signature_state
from ecgdesk.workflow.reporting import add_addendum, interpret, report_study, sign
from ecgdesk.workflow.review import changed_after_sending
from ecgdesk.workflow.signing_batch import sign_batch, signing_queue
from ecgdesk.workflow.studies import create_study, import_recording
from ecgdesk.workflow.users import add_user
from ecgdesk.workflow.views import show_study

pytest.importorskip("ecgdesk.analysis.pipeline")
pytest.importorskip("ecgdesk.reports.scanning")

from claims_workflow_builders import copy_store
from workflow_builders import (
    PHYSICIAN_NPI,
    PIN,
    SECOND_NPI,
    assert_pdf_carries_signatures,
    fake_analyzer,
    request,
)

from backends import BACKENDS


def _build_reported(store: Store, record: Path) -> int:
    add_user(store, "dr.a", "physician", PIN, "Ana A, MD", npi=PHYSICIAN_NPI, credentials="MD")
    add_user(store, "dr.b", "physician", "1357-1357", "Ben B, MD", npi=SECOND_NPI)
    add_user(store, "tech", "technician", "9999-9999", "Terry Tech")
    study_id = create_study(store, request(), "tech")
    import_recording(store, study_id, record, "tech")
    analyze_study(store, study_id, "tech", analyzer=fake_analyzer)
    report_study(store, study_id, "tech")
    return study_id


@pytest.fixture(scope="module")
def reported_template(tmp_path_factory: pytest.TempPathFactory, tiny_record: Path) -> Path:
    """A reported study built once; each test works on its own copy (stored paths are home-relative)."""
    folder = tmp_path_factory.mktemp("reported")
    template = open_store(url=f"sqlite:///{folder / 'db.sqlite'}", home=folder / "home")
    _build_reported(template, tiny_record)
    template.close()
    return folder


@pytest.fixture(params=BACKENDS)
def store(
    tmp_path: Path, reported_template: Path, request: pytest.FixtureRequest
) -> Iterator[Store]:
    store = copy_store(reported_template, tmp_path / "copy", request.param)
    yield store
    store.close()


@pytest.fixture
def reported(store: Store) -> int:
    return 1


def _versions(store: Store, study_id: int) -> list[tuple[int, str, str]]:
    with store.transaction() as session:
        rows = session.scalars(
            select(ReportVersion).where(ReportVersion.study_id == study_id).order_by(ReportVersion.version)
        )
        return [(r.version, r.content_sha256, r.pdf_sha256) for r in rows]


def test_sign_after_review(store: Store, reported: int) -> None:
    reviewed = interpret(store, reported, "dr.a", "Sinus rhythm with PVCs.")
    signed = sign(store, reported, "dr.a", PIN)
    assert signed.version == reviewed.version and signed.content_sha256 == reviewed.content_sha256
    assert signed.pdf_path.read_bytes().startswith(b"%PDF")
    view = show_study(store, reported)
    assert view.status == "signed" and view.signatures[0].printed_name == "Ana A, MD"
    assert (view.components[-1].component, view.components[-1].npi) == ("interpretation", PHYSICIAN_NPI)
    assert signature_state(store, reported) == "valid"


def test_wrong_password_is_refused_and_audited(store: Store, reported: int) -> None:
    interpret(store, reported, "dr.a", "Sinus rhythm.")
    with pytest.raises(AuthenticationError) as info:
        sign(store, reported, "dr.a", "0000")
    assert "wrong user name or password" in info.value.reason and "dr.a" in info.value.reason
    assert show_study(store, reported).status == "reported"
    with store.transaction() as session:
        assert session.scalar(select(Signature)) is None
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None and last.action == "auth:refused"


def test_only_the_reviewing_physician_may_sign(store: Store, reported: int) -> None:
    with pytest.raises(InputError, match="not been reviewed"):
        sign(store, reported, "dr.a", PIN)
    interpret(store, reported, "dr.a", "Sinus rhythm.")
    with pytest.raises(InputError, match=r"not been reviewed by 'dr\.b'"):
        sign(store, reported, "dr.b", "1357-1357")
    with pytest.raises(PermissionDeniedError, match="is a technician"):
        sign(store, reported, "tech", "9999-9999")


def test_an_edit_after_sending_renders_the_report_again(store: Store, reported: int) -> None:
    """The technician had sent the report (reported) and the physician reviewed it; the technician then
    relabels a template (workstation, API, ``study edit``: :func:`edit_and_report`): the report is rendered
    again at once, the study stays on the physician's worklist marked "changed after sending", and the
    physician cannot sign the version they reviewed; the render is audited under the technician.

    The physician's "To sign" list (``study sign-queue``, ``GET /api/v1/signing/queue``) keeps the study,
    marked, not ready, the reason naming both versions; the batch refuses it with that reason; their "Save
    and review" of the new version makes it ready. Before, it left the list (its newest version was
    nobody's review) and the batch's reason was "not on your worklist"."""
    reviewed = interpret(store, reported, "dr.a", "Sinus rhythm with PVCs.")
    (before,) = signing_queue(store, "dr.a", "dr.a")
    assert before.ready and not before.changed_after_sending and before.reviewed_version == reviewed.version
    done = edit_and_report(store, reported, EditKind.TEMPLATE, [1], "N", "tech")
    rerendered = done.report
    assert rerendered is not None and rerendered.version == reviewed.version + 1, done
    assert rerendered.content_sha256 != reviewed.content_sha256
    assert "changed after sending" in done.note()
    assert show_study(store, reported).status == "reported"
    with store.transaction() as session:
        assert changed_after_sending(session, [reported]) == {reported}
        rows = [(e.actor, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == str(reported)).order_by(AuditEntry.id))]
    after_edit = rows[rows.index(("tech", "analysis:edit")):]
    assert ("tech", "report:render") in after_edit and ("tech", "status:report") in after_edit
    with pytest.raises(InputError, match="not been reviewed"):  # never the stale version
        sign(store, reported, "dr.a", PIN)
    assert rerendered is not None
    queue = signing_queue(store, "dr.a", "dr.a")
    assert [q.study_id for q in queue] == [reported], "left the physician's signing queue"
    row = queue[0]
    assert row.changed_after_sending and not row.ready and row.reason is not None
    assert (row.version, row.reviewed_version, row.reviewed_at) == (
        rerendered.version, reviewed.version, before.reviewed_at)
    assert f"rendered again as version {rerendered.version}" in row.reason
    assert f"review of version {reviewed.version}" in row.reason
    assert signing_queue(store, "dr.b", "dr.b").total == 0  # never theirs
    batch = sign_batch(store, [reported], "dr.a", PIN)
    assert batch.signed == [] and [r.reason for r in batch.refused] == [row.reason]
    again = interpret(store, reported, "dr.a")
    (ready,) = signing_queue(store, "dr.a", "dr.a")
    assert ready.ready and ready.changed_after_sending and ready.reviewed_version == again.version
    signed = sign(store, reported, "dr.a", PIN)
    assert signed.content_sha256 == again.content_sha256 == rerendered.content_sha256
    with store.transaction() as session:
        assert changed_after_sending(session, [reported]) == set()  # signed: the mark has done its work


def test_a_render_queued_before_the_signature_is_done_with_a_note(
    store: Store, reported: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The technician's edit of a sent study queued its render (``report.render``); before a worker ran it,
    the technician rendered the report by hand and the physician reviewed and signed that version. The
    render is no longer needed: the job is done, renders nothing, and its result says why (the pages and
    ``study edit`` show it). Before, it failed with "cannot report a study in status 'signed'" and the pages
    said the report "could not be rendered again"."""
    from ecgdesk.reports.scanning import RenderedReport
    from ecgdesk.workflow import report_render
    from ecgdesk.workflow.beat_edits import edit_and_queue
    from ecgdesk.workflow.jobs import run_chain

    def render(ctx: object, folder: Path) -> RenderedReport:  # the PDFs are not what is tested (3 s less)
        for name in ("report.pdf", "report.html"):
            (folder / name).write_text(f"{name} of {folder.name}")
        return RenderedReport(folder / "report.pdf", folder / "report.html", "-", 1)

    monkeypatch.setattr(report_render, "render_scanning_report", render)
    queued = edit_and_queue(store, reported, EditKind.TEMPLATE, [1], "N", "tech")
    assert queued.report_job is not None and show_study(store, reported).status == "analyzed"
    report_study(store, reported, "tech")  # by hand, from the report page
    interpret(store, reported, "dr.a", "Sinus rhythm.")
    signed = sign(store, reported, "dr.a", PIN)
    versions = _versions(store, reported)
    job = run_chain(store, queued.report_job)
    note = (f"the report was not rendered again: study {reported} was signed with version {signed.version} "
            "meanwhile")
    assert (job.status, job.error, job.result) == ("done", None, {
        "version": signed.version, "reused": True, "note": note}), job
    assert _versions(store, reported) == versions and show_study(store, reported).status == "signed"
    assert signature_state(store, reported) == "valid"


def test_a_reanalysis_after_sending_renders_the_report_again(
    store: Store, reported: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-analysis of the sent study that makes a new run (here the engine upgraded, through the job that
    ``study analyze``, ``POST .../analysis`` and the worker run) is treated as the beat edit is
    (:func:`ecgdesk.workflow.beat_edits.report_again`): the report rendered again under the technician, the
    study reported, a new unreviewed version, marked changed after sending (no beat was edited). Before, the
    study dropped to analyzed, off the physician's worklist. (The physician's side of a changed study, the
    "To sign" list and the refused old review, is the edit's test above.)

    The render is a ``report.render`` job queued in the transaction that ends the analysis job. Before,
    the analysis job rendered it itself once its end was committed: a worker killed there (or a render
    failing for a while, a full disk) left the study analyzed, off the physician's worklist, and no job
    to take the render up."""
    from ecgdesk.jobs import queue
    from ecgdesk.jobs.runner import execute
    from ecgdesk.workflow import analysis, beat_edits
    from ecgdesk.workflow.analysis_jobs import enqueue_analysis
    from ecgdesk.workflow.jobs import KINDS, run_chain, show_job

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # stands for kill -9 right after the analysis job's end was committed

    monkeypatch.setattr(analysis, "ALGORITHM_VERSION", "upgraded")  # a new input: a new run
    monkeypatch.setattr(analysis, "default_analyzer", fake_analyzer)
    monkeypatch.setattr(beat_edits, "report_study", killed)
    job_id = enqueue_analysis(store, reported, "tech", again=True)
    with store.transaction() as session:
        (claim,) = queue.claim(session, "doomed", KINDS, 1, 60.0, job_id=job_id)
    with contextlib.suppress(KeyboardInterrupt):  # the worker is gone after its job (here: the render)
        execute(store, claim, KINDS)
    job = show_job(store, job_id).job
    assert job.status == "done" and job.result is not None and not job.result["reused"], job
    assert "next_job" in job.result, "the render was left to the killed worker"
    render = show_job(store, int(job.result["next_job"])).job  # queued with the analysis's end
    assert (render.kind, render.status, render.study_id) == ("report.render", "queued", reported)
    assert run_chain(store, render.id).status == "done"  # any worker
    with store.transaction() as session:
        assert get_study(session, reported).status == "reported"
        versions = session.scalars(select(ReportVersion).where(ReportVersion.study_id == reported)
                                   .order_by(ReportVersion.version)).all()
        assert [(v.version, v.analysis_run_id, v.reviewed_by) for v in versions] == [
            (1, 1, None), (2, job.result["run_id"], None)]
        assert changed_after_sending(session, [reported]) == {reported}
        rows = [(e.actor, e.action) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == str(reported)).order_by(AuditEntry.id))]
    tech = [action for actor, action in rows if actor == "tech"]
    after_run = tech[len(tech) - tech[::-1].index("analysis:run"):]
    assert after_run[-2:] == ["report:render", "status:report"], tech


def test_a_reanalysis_back_to_the_sent_analysis_sends_its_report_again(
    store: Store, reported: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-analysis of the sent study made a new run (its render queued), and a second one, before the
    render ran, reused the sent run (the engine version set back): the latest version shows the analysis
    again, so the render reuses it, and the study goes back to the physician (reported), as a render sends
    it. Before, the study stayed analyzed, off the physician's worklist, while the job said "done, version
    1", and the technician's "Create report" (``study report``) reused the version and left it so too."""
    from ecgdesk.workflow import analysis
    from ecgdesk.workflow.beat_edits import queue_report_again, was_sent
    from ecgdesk.workflow.jobs import run_chain

    sent, engine = was_sent(store, reported), analysis.ALGORITHM_VERSION
    monkeypatch.setattr(analysis, "ALGORITHM_VERSION", "upgraded")
    analyze_study(store, reported, "tech", analyzer=fake_analyzer)
    queued = queue_report_again(store, reported, sent, "tech")
    assert queued.report_job is not None
    monkeypatch.setattr(analysis, "ALGORITHM_VERSION", engine)
    assert analyze_study(store, reported, "tech", analyzer=fake_analyzer).reused
    assert show_study(store, reported).status == "analyzed"
    versions = _versions(store, reported)
    job = run_chain(store, queued.report_job)
    assert (job.status, job.result) == ("done", {"version": 1, "reused": True}), job
    assert show_study(store, reported).status == "reported" and _versions(store, reported) == versions
    with store.transaction() as session:
        ended, moved = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(2)).all()
    assert [(moved.actor, moved.action), ended.action] == [("tech", "status:report"), "job:done"]


def test_report_file_changed_on_disk_is_refused(store: Store, reported: int) -> None:
    reviewed = interpret(store, reported, "dr.a", "Sinus rhythm.")
    reviewed.pdf_path.write_bytes(reviewed.pdf_path.read_bytes() + b"\n% tampered\n")
    with pytest.raises(InputError) as info:
        sign(store, reported, "dr.a", PIN)
    assert "changed or removed on disk" in info.value.reason and str(reviewed.pdf_path) in str(info.value)


def test_addendum_is_a_new_signed_version(store: Store, reported: int) -> None:
    interpret(store, reported, "dr.a", "Sinus rhythm.")
    signed = sign(store, reported, "dr.a", PIN)
    before = _versions(store, reported)
    with pytest.raises(InputError, match="cannot interpret a study in status 'signed'"):
        interpret(store, reported, "dr.a", "Overwrite attempt.")
    with pytest.raises(InputError, match="cannot edit beats of a study in status 'signed'"):
        edit_beats(store, reported, EditKind.BEAT, 0, "V", "tech")
    amended = add_addendum(store, reported, "dr.b", "1357-1357", "Addendum: rare PVCs on review of strips.")
    after = _versions(store, reported)
    assert after[: len(before)] == before  # earlier versions untouched (content and file hashes)
    assert amended.version == signed.version + 1 and amended.content_sha256 != signed.content_sha256
    assert signed.pdf_path.exists()
    view = show_study(store, reported)
    assert view.interpretation is not None and view.interpretation.text == "Sinus rhythm."
    assert [s.printed_name for s in view.signatures] == ["Ana A, MD", "Ben B, MD"]
    # Each signature says what it means (21 CFR 11.50): the second physician amended, they did not interpret.
    assert [s.meaning for s in view.signatures] == ["Interpreted by", "Addendum by"]
    assert [s.version for s in view.signatures] == [signed.version, amended.version]
    assert view.addenda[0].printed_name == "Ben B, MD" and view.addenda[0].author == "dr.b"
    assert view.addenda[0].text.startswith("Addendum")
    assert signature_state(store, reported) == "valid"
    with store.transaction() as session:
        assert verify(session).ok


def test_the_addendum_version_s_pdf_carries_every_signature(store: Store, reported: int) -> None:
    """21 CFR 11.50: the new version's PDF shows the interpretation's signature it carries and the
    addendum's, each with meaning, printed name, date-time and version. Before, only "Addendum by"."""
    interpret(store, reported, "dr.a", "Sinus rhythm.")
    signed = sign(store, reported, "dr.a", PIN)
    first = [("Interpreted by", "Ana A, MD", signed.version, signed.signed_at)]
    assert_pdf_carries_signatures(signed.pdf_path, first)
    amended = add_addendum(store, reported, "dr.b", "1357-1357", "Addendum: rare PVCs on review of strips.")
    assert_pdf_carries_signatures(
        amended.pdf_path,
        [
            ("Interpreted by", "Ana A, MD", signed.version, signed.signed_at),
            ("Addendum by", "Ben B, MD", amended.version, amended.signed_at),
        ],
    )
    html = (amended.pdf_path.parent / "report.html").read_text()
    assert "Interpreted by: Ana A, MD" in html and "Addendum by: Ben B, MD" in html


def test_content_changed_after_review_is_refused(store: Store, reported: int) -> None:
    """A technician comment added after the physician's review changes the content: no signature."""
    from ecgdesk.workflow.studies import set_technician_comments

    reviewed = interpret(store, reported, "dr.a", "Sinus rhythm.")
    set_technician_comments(store, reported, "Patient removed the patch for 2 h on day 3.", "tech")
    with pytest.raises(InputError) as info:
        sign(store, reported, "dr.a", PIN)
    assert info.value.field == "report" and "content changed since version" in info.value.reason
    again = interpret(store, reported, "dr.a")
    assert again.version == reviewed.version + 1
    assert sign(store, reported, "dr.a", PIN).content_sha256 == again.content_sha256


def test_a_text_saved_meanwhile_is_not_overwritten(store: Store, reported: int) -> None:
    """Two people with the same study open: the second save, started from the text before the first,
    is refused (409, field ``base``) and the first one's words stay; started from the saved text, or
    without saying (the command line), it replaces it."""
    from ecgdesk.errors import ConflictError
    from ecgdesk.store.models import Study
    from ecgdesk.workflow.studies import set_technician_comments

    def comments() -> str:
        with store.transaction() as session:
            row = session.get(Study, reported)
            assert row is not None
            return row.technician_comments

    set_technician_comments(store, reported, "Patch off for 2 h on day 3.", "tech", base="")
    with pytest.raises(ConflictError) as info:
        set_technician_comments(store, reported, "Diary: dizzy at 14:00.", "tech", base="")
    assert info.value.field == "base" and "technician comments were changed" in info.value.reason
    assert comments() == "Patch off for 2 h on day 3."
    set_technician_comments(store, reported, "Patch off 2 h. Diary: dizzy at 14:00.", "tech",
                            base=" Patch off for 2 h on day 3.\n")
    assert comments() == "Patch off 2 h. Diary: dizzy at 14:00."

    first = interpret(store, reported, "dr.a", "Sinus rhythm.", base="")
    with pytest.raises(ConflictError) as info:
        interpret(store, reported, "dr.b", "Sinus rhythm with PVCs.", base="")
    assert info.value.field == "base" and "changed by dr.a" in info.value.reason
    view = show_study(store, reported)
    assert view.interpretation is not None and view.interpretation.text == "Sinus rhythm."
    assert [v.version for v in view.reports][-1] == first.version  # nothing rendered for the refused save
    interpret(store, reported, "dr.b", "Sinus rhythm with PVCs.", base="Sinus rhythm.")
    interpret(store, reported, "dr.a", "Sinus rhythm, rare PVCs.")
    view = show_study(store, reported)
    assert view.interpretation is not None and view.interpretation.text == "Sinus rhythm, rare PVCs."


def _pdf_text(pdf: Path) -> str:
    from pypdf import PdfReader

    return " ".join(page.extract_text() for page in PdfReader(pdf).pages)


def test_characters_the_base_font_lacks_print_in_the_signed_pdf(store: Store, reported: int) -> None:
    """DejaVu Sans has no watch symbol nor circled letters; the fallback (matplotlib's STIX, always
    there) prints them, so the signed PDF's text holds what was signed (before: blank boxes and
    matplotlib's "Glyph ... missing" warning, an error here)."""
    pasted = "Sinus rhythm; symptom button \u231a pressed at \u24b6."
    comment = "Patch \u24b7 reapplied."
    from ecgdesk.workflow.studies import set_technician_comments

    set_technician_comments(store, reported, comment, "tech")
    interpret(store, reported, "dr.a", pasted)
    signed = sign(store, reported, "dr.a", PIN)
    text = _pdf_text(signed.pdf_path)
    assert "\u231a" in text and "\u24b6" in text and "\u24b7" in text, text
    amended = add_addendum(store, reported, "dr.b", "1357-1357", "Addendum \u24b8: no change.")
    assert "\u24b8" in _pdf_text(amended.pdf_path)
    assert signature_state(store, reported) == "valid"  # the stored PDF is the one signed


def test_text_no_installed_font_can_print_is_refused_where_it_is_entered(
    store: Store, reported: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a host without a CJK font (here: the fallback limited to DejaVu Sans), Japanese text would
    print as blank boxes: refused at the interpretation, the technician's comment and the addendum, naming
    the field and the character, before the password is checked; nothing is stored."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from ecgdesk.reports import fonts
    from ecgdesk.workflow.studies import set_technician_comments

    only = fonts.Fallback(
        ("DejaVu Sans",), frozenset(FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap())
    )
    monkeypatch.setattr(fonts, "fallback", lambda: only)
    before = _versions(store, reported)
    with pytest.raises(InputError) as info:
        interpret(store, reported, "dr.a", "洞調律 sinus rhythm")
    assert info.value.field == "text" and "'洞' (U+6D1E" in info.value.reason and "'律'" in info.value.reason
    with pytest.raises(InputError) as info:
        set_technician_comments(store, reported, "Patch off \u0e01", "tech")
    assert info.value.field == "text" and "U+0E01" in info.value.reason
    assert show_study(store, reported).interpretation is None and _versions(store, reported) == before
    interpret(store, reported, "dr.a", "Sinus rhythm.")
    sign(store, reported, "dr.a", PIN)
    with pytest.raises(InputError, match=r"U\+6D1E"):
        add_addendum(store, reported, "dr.b", "wrong", "洞調律")  # the text first: no failed attempt
    with store.transaction() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "auth:refused")) is None
