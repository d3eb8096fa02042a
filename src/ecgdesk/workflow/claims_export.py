"""Exporting claims as 837P files per payer, and correcting claims after adjudication or rejection.

``export_claims`` writes one 837P per payer for every ``scrubbed`` claim (or the named ones; a named claim
that is not exportable is refused with its reason), with interchange and group control numbers drawn from
the database so they never repeat; the file is checked again with the TR3 file rules before it is kept.
The claims move to ``exported`` and their studies to ``billed``. ``correct_claim`` makes the replacement
(frequency 7 with REF*F8 = the payer's claim number) of an adjudicated claim, or a new original of a
claim rejected at the 999/277CA, after the edits given; payers whose rules take corrections as
reopenings (Medicare Part B) are refused with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.claims import (
    Envelope,
    Frequency,
    Party,
    ProfessionalClaim,
    file_problems,
    write_837p,
)
from ecgdesk.claims.schemas import claim_from_dict
from ecgdesk.claims.x12 import collector_paused, read_text
from ecgdesk.coding import Claim, scrub
from ecgdesk.coding import claim_from_dict as coding_claim_from_dict
from ecgdesk.errors import ConflictError, InputError
from ecgdesk.store import Store, append, append_many
from ecgdesk.store.audit import NewAuditRow
from ecgdesk.store.claims_models import (
    BillingProviderRow,
    ClaimRow,
    PayerRow,
    X12Batch,
)
from ecgdesk.store.enums import StudyStatus
from ecgdesk.store.models import Study
from ecgdesk.workflow.claims import (
    find_claim,
    new_claim_row,
    patient_history,
    save_claim,
    scrub_all,
    scrubbed,
    tagged_findings,
)
from ecgdesk.workflow.claims_ledger import ADJUDICATED, SENT, ClaimStatus, move_claim
from ecgdesk.workflow.claims_secondary import (
    billed_share_cents,
    book_prior_payer,
    primary_claims,
    rekeyed,
)
from ecgdesk.workflow.claims_setup import rules_of
from ecgdesk.workflow.lifecycle import move, now

# -------------------------------------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    payer: str
    claims: list[str]
    interchange_control: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "payer": self.payer,
            "claims": self.claims,
            "interchange_control": self.interchange_control,
        }


def _not_exportable(row: ClaimRow) -> str:
    if row.status == ClaimStatus.CREATED.value:
        errors = [f["message"] for f in json.loads(row.scrub_json) if f["severity"] == "error"]
        return f"the scrubber found {len(errors)} error(s): {errors[0] if errors else '?'}"
    return f"it is '{row.status}', only 'scrubbed' claims are exported"


def export_claims(
    store: Store, out_dir: Path, actor: str, payer: str | None = None, claim_refs: Sequence[str] = ()
) -> list[ExportedFile]:
    """Write one 837P per payer for every claim ready to go (or the named ones); returns the files."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError("out", f"cannot create the folder ({error.strerror})", out_dir) from None
    written: list[Path] = []
    try:
        with collector_paused(), store.transaction() as session:
            if claim_refs:
                # locked: the same claim exported at the same moment waits, then is not 'scrubbed' any more
                rows = [find_claim(session, ref, for_update=True) for ref in claim_refs]
                for row in rows:
                    if row.status != ClaimStatus.SCRUBBED.value:
                        raise ConflictError(
                            f"claim {row.claim_number}", f"not exportable: {_not_exportable(row)}"
                        )
            else:
                rows = list(
                    session.scalars(
                        select(ClaimRow)
                        .where(ClaimRow.status == ClaimStatus.SCRUBBED.value)
                        .order_by(ClaimRow.id)
                        # PostgreSQL checks the status again once a concurrent export lets go of a row
                        .with_for_update()
                        .execution_options(populate_existing=True)
                    )
                )
            payers = {p.id: p for p in session.scalars(select(PayerRow))}
            if payer is not None:
                chosen = [p for p in payers.values() if p.payer_id == payer]
                if not chosen:
                    raise InputError("payer", f"no payer {payer!r}")
                rows = [r for r in rows if r.payer_id == chosen[0].id]
            files = []
            for payer_row_id in sorted({r.payer_id for r in rows}):
                group = [r for r in rows if r.payer_id == payer_row_id]
                files.append(_export_batch(session, out_dir, payers[payer_row_id], group, actor, written))
            return files
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def _export_batch(
    session: Session, out_dir: Path, payer: PayerRow, rows: list[ClaimRow], actor: str, written: list[Path]
) -> ExportedFile:
    claims = [claim_from_dict(json.loads(r.claim_json)["claim"]) for r in rows]
    billing = session.get(BillingProviderRow, rows[0].billing_provider_id)
    assert billing is not None
    batch = X12Batch(
        direction="out",
        kind="837",
        payer_id=payer.id,
        path="",
        sha256="",
        claims_count=len(rows),
        created_by=actor,
        created_at=now(),
    )
    session.add(batch)
    session.flush()
    stamp = now()
    envelope = Envelope(
        billing.submitter_id,
        payer.receiver_id,
        batch.id,
        batch.id,
        stamp,
        payer.usage,
        reference=f"B{batch.id}",
    )
    submitter = Party(billing.name, billing.submitter_id, billing.contact_name, billing.contact_phone)
    result = write_837p(claims, submitter, Party(payer.receiver_name, payer.receiver_id), envelope)
    problems = file_problems(read_text(result.text))
    if problems:  # the writer and the file checks disagree: a bug, never a file to send
        raise InputError("837P", f"the written file fails its own TR3 check: {problems[0]}")
    name = re.sub(r"[^A-Za-z0-9_-]", "_", payer.payer_id)
    path = out_dir / f"837P-{name}-{batch.id:09d}.x12"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(result.text, encoding="ascii", errors="replace")
    os.replace(tmp, path)
    written.append(path)
    batch.path = str(path.resolve())
    batch.sha256 = hashlib.sha256(result.text.encode("ascii", errors="replace")).hexdigest()
    log: list[NewAuditRow] = []
    for row in rows:
        row.batch_id = batch.id
        row.exported_at = stamp
        move_claim(
            session,
            row,
            ClaimStatus.EXPORTED,
            actor,
            "export",
            {"batch": batch.id, "file": path.name, "interchange_control": batch.id},
            log=log,
        )
    append_many(session, log)
    for row in rows:
        if row.study_id is not None:
            study = session.get(Study, row.study_id)
            if study is not None and study.status == StudyStatus.CODED.value:
                append(
                    session, actor, "coding:billed", "study", study.id, None, {"reference": row.claim_number}
                )
                move(session, study, StudyStatus.BILLED, actor, "bill")
    append(
        session,
        actor,
        "claims:export",
        "x12_batch",
        batch.id,
        None,
        {
            "file": path.name,
            "payer": payer.payer_id,
            "claims": [r.claim_number for r in rows],
            "sha256": batch.sha256,
        },
    )
    return ExportedFile(path, payer.payer_id, [r.claim_number for r in rows], batch.id)


# ------------------------------------------------------------------------------------------- correct


@dataclass(frozen=True)
class LineEdit:
    """A change to one line of a claim being corrected (1-based line number)."""

    line: int
    code: str | None = None
    modifiers: tuple[str, ...] | None = None
    units: int | None = None


@dataclass(frozen=True)
class ClaimEdits:
    lines: tuple[LineEdit, ...] = ()
    drop: tuple[int, ...] = ()
    diagnoses: tuple[str, ...] | None = None
    prior_authorization: str | None = None


NO_EDITS = ClaimEdits()


def _edited(claim: ProfessionalClaim, coding: Claim, edits: ClaimEdits) -> tuple[ProfessionalClaim, Claim]:
    by_line = {e.line: e for e in edits.lines}
    for number in [*by_line, *edits.drop]:
        if not 1 <= number <= len(claim.lines):
            raise InputError("line", f"claim {claim.claim_id} has lines 1-{len(claim.lines)}, not {number}")
    lines, coding_lines = [], []
    for number, (line, coded) in enumerate(zip(claim.lines, coding.lines, strict=True), start=1):
        if number in edits.drop:
            continue
        edit = by_line.get(number)
        if edit is not None:
            unit_price = line.charge / line.units
            units = edit.units if edit.units is not None else line.units
            line = replace(
                line,
                code=edit.code or line.code,
                modifiers=edit.modifiers if edit.modifiers is not None else line.modifiers,
                units=units,
                charge=unit_price * units,
            )
            coded = replace(coded, code=line.code, modifiers=line.modifiers, units=units)
        lines.append(line)
        coding_lines.append(coded)
    if not lines:
        raise InputError(
            "drop",
            f"a corrected claim keeps at least one line (claim {claim.claim_id} bills {len(claim.lines)}); a "
            "void (frequency 8) is not offered: to take the whole claim back, ask the payer for its "
            "reversal, or write the balance off",
        )
    diagnoses = edits.diagnoses if edits.diagnoses is not None else claim.diagnoses
    fixed = replace(
        claim,
        lines=tuple(lines),
        diagnoses=diagnoses,
        prior_authorization=edits.prior_authorization or claim.prior_authorization,
    )
    return fixed, replace(coding, lines=tuple(coding_lines), diagnoses=diagnoses)


@dataclass(frozen=True)
class Correction:
    original: str
    claim_id: str
    frequency: str
    status: str
    errors: list[str]


def correction_offer(session: Session, row: ClaimRow) -> str | None:
    """What :func:`correct_in` makes of ``row`` now, as the billing page offers it: ``replacement``
    (frequency 7; a rejected replacement goes again as one), ``new_original`` (a rejected claim), or None
    where it would be refused (not yet adjudicated, a payer taking reopenings, no payer claim number for
    REF*F8 yet)."""
    status = ClaimStatus(row.status)
    if status is ClaimStatus.REJECTED:
        carried = claim_from_dict(json.loads(row.claim_json)["claim"]).payer_claim_number
        return "replacement" if row.frequency in ("7", "8") and carried else "new_original"
    if status not in ADJUDICATED or not row.payer_claim_number:
        return None
    payer = session.get(PayerRow, row.payer_id)
    assert payer is not None
    return None if rules_of(payer).corrected_claim == "reopening" else "replacement"


def correct_claim(
    store: Store,
    claim_ref: str,
    actor: str,
    edits: ClaimEdits = NO_EDITS,
    today: date | None = None,
) -> Correction:
    """A replacement (frequency 7, REF*F8) of an adjudicated claim, or a new original of a rejected one (a
    rejected replacement goes again as the same replacement)."""
    with store.transaction() as session:
        # locked: a second correction at the same moment waits, then finds the claim 'corrected'
        original = find_claim(session, claim_ref, for_update=True)
        return correct_in(session, original, actor, edits, today or date.today())


def correct_in(
    session: Session,
    original: ClaimRow,
    actor: str,
    edits: ClaimEdits,
    today: date,
    new_original: bool = False,
) -> Correction:
    """:func:`correct_claim` inside a transaction; ``new_original`` sends frequency 1 (e.g. after CO-16)."""
    status = ClaimStatus(original.status)
    payer = session.get(PayerRow, original.payer_id)
    assert payer is not None
    rules = rules_of(payer)
    stored = json.loads(original.claim_json)
    claim, coding = _edited(claim_from_dict(stored["claim"]), coding_claim_from_dict(stored["coding"]), edits)
    replaces = original.frequency in ("7", "8") and bool(claim.payer_claim_number) and not new_original
    # a secondary claim we billed goes again as that secondary claim: the same share, the primary's
    # determination (2320/2330x/2430) kept
    primary = primary_claims(session, [original.id]).get(original.id)
    share = billed_share_cents(session, original) if primary is not None else 0
    if primary is not None and new_original and status is not ClaimStatus.REJECTED:
        # its payer's determination moved the share off the primary (transfer) and stands: a new original
        # would be a second claim for a share already decided. A replacement (frequency 7) is the way: the
        # payer reverses its first determination, which gives the share back for the replacement's
        raise ConflictError(
            "status",
            f"claim {original.claim_number} is the secondary claim of {primary.claim_number} and its payer "
            f"has decided it ('{status.value}'); correct it with a replacement ('correct'), not a new "
            "original (or appeal the decision, or write it off)",
        )
    if primary is not None and edits.drop:
        raise InputError(
            "drop",
            f"claim {original.claim_number} is the secondary claim of {primary.claim_number}: each line "
            "carries the primary payer's determination (2430), so none may be dropped",
        )
    if status is ClaimStatus.REJECTED and replaces:
        # a replacement (or void) rejected at the 999/277CA was never adjudicated, but the claim it replaces
        # was and still stands at the payer: it goes again as that replacement, with the same REF*F8 (the
        # one it carried, not a REF*1K its rejection may have given); a new original would be a duplicate
        frequency, reference = Frequency(original.frequency), claim.payer_claim_number
    elif status is ClaimStatus.REJECTED or (new_original and status in SENT):
        frequency, reference = Frequency.ORIGINAL, None
    elif status in (
        ClaimStatus.CREATED,
        ClaimStatus.SCRUBBED,
        ClaimStatus.EXPORTED,
        ClaimStatus.CORRECTED,
    ):
        raise ConflictError(
            "status",
            f"claim {original.claim_number} is '{status.value}': nothing to correct "
            "(a claim not yet adjudicated is fixed by 'claims create' again or waits for its 999/277CA)",
        )
    elif rules.corrected_claim == "reopening":
        raise InputError(
            "payer",
            f"{payer.name} ({rules.citation}) takes corrections as reopenings, not frequency-7 claims; "
            "work the denial item with --action reopening",
        )
    elif not original.payer_claim_number:
        raise InputError(
            "payer claim number",
            f"claim {original.claim_number} has no payer claim number yet "
            "(from the 277CA REF*1K or the 835 CLP07) for REF*F8",
        )
    else:
        frequency, reference = Frequency.REPLACEMENT, original.payer_claim_number
    stamp = now()
    prefix = re.match(r"[A-Z]*", original.claim_number)
    row = new_claim_row(
        session, actor, stamp, f"TMP{original.id}-{stamp.timestamp():.6f}",
        prefix.group(0) if prefix else "ECG",
        study_id=original.study_id, patient_id=original.patient_id, payer_id=original.payer_id,
        coverage_id=original.coverage_id, billing_provider_id=original.billing_provider_id,
        frequency=frequency.value, original_claim_id=original.id, place_of_service=claim.place_of_service,
    )
    controls = {x.control: f"{row.claim_number}L{n}" for n, x in enumerate(claim.lines, start=1)}
    claim = replace(
        claim,
        claim_id=row.claim_number,
        frequency=frequency,
        payer_claim_number=reference,
        lines=tuple(replace(x, control=controls[x.control]) for x in claim.lines),
        other_payers=rekeyed(claim.other_payers, controls),
    )
    coding_findings = tagged_findings("coding", scrub(coding))
    # a secondary claim bills the service its primary claim billed: no frequency-limit history against
    # itself (as when it was first built)
    history = patient_history(session, row) if primary is None else []
    findings = scrub_all(claim, coding, coding_findings, rules, today, history)
    save_claim(session, row, claim, coding, findings)
    if primary is not None:
        book_prior_payer(session, row, share, actor, stamp)
    append(
        session,
        actor,
        "claim:create",
        "claim",
        row.id,
        None,
        {
            "claim_number": row.claim_number,
            "replaces": original.claim_number,
            "frequency": frequency.value,
        },
    )
    scrubbed(session, row, findings, actor)
    move_claim(session, original, ClaimStatus.CORRECTED, actor, "correct", {"replacement": row.claim_number})
    return Correction(
        original.claim_number,
        row.claim_number,
        frequency.value,
        row.status,
        [f["message"] for f in findings if f["severity"] == "error"],
    )
