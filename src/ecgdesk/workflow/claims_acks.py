"""What comes back first: TA1, 999 and 277CA acknowledgements of the claims we sent, each applied to its
claims (accepted, rejected with the reason) in one transaction; a file already applied (same content)
changes nothing. The 835 remittances are posted by :mod:`ecgdesk.workflow.claims_inbound`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ecgdesk.claims import read_277ca, read_999
from ecgdesk.claims.acks import InterchangeAck, SetAck, check_ta1_only, claims_in_set, kind_of, read_ta1
from ecgdesk.claims.model import SET_CONTROL
from ecgdesk.claims.x12 import read_file, read_text
from ecgdesk.errors import InputError, is_digits
from ecgdesk.store import Store, append, serialise
from ecgdesk.store.claims_models import ClaimAckRow, ClaimRow, X12Batch
from ecgdesk.workflow.claims_ledger import ClaimStatus, move_claim
from ecgdesk.workflow.lifecycle import now


@dataclass
class AckResult:
    kind: str
    duplicate: bool = False
    claims: list[dict[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "duplicate": self.duplicate,
            "claims": self.claims,
            "unknown": self.unknown,
        }


def _inbound_batch(
    session: Session, kind: str, path: Path, digest: str, count: int, actor: str
) -> X12Batch | None:
    """A new inbound batch row, or ``None`` when the same content was already applied."""
    # the same file applied twice at once: the second waits here and finds the first's batch (on
    # PostgreSQL both found none and each added its acknowledgement rows)
    serialise(session, f"x12-in:{kind}:{digest}")
    seen = session.scalar(
        select(X12Batch).where(X12Batch.direction == "in", X12Batch.kind == kind, X12Batch.sha256 == digest)
    )
    if seen is not None:
        return None
    batch = X12Batch(
        direction="in",
        kind=kind,
        payer_id=None,
        path=str(Path(path).resolve()),
        sha256=digest,
        claims_count=count,
        created_by=actor,
        created_at=now(),
    )
    session.add(batch)
    session.flush()
    return batch


def apply_ack(store: Store, path: Path, actor: str) -> AckResult:
    """Apply a TA1, a 999 or a 277CA to our claims (accepted / rejected with the reason); the TA1s an
    interchange carries before its 999 or 277CA group are applied first."""
    path = Path(path)
    interchange = read_file(path)
    kind = kind_of(interchange)
    ta1s = read_ta1(interchange)
    if kind == "" and ta1s:
        check_ta1_only(interchange)
        kind = "TA1"
    elif kind not in ("999", "277"):
        kinds = "TA1, 999 or 277CA"
        raise InputError("FILE", f"a {kind or 'non-X12'} file is not an acknowledgement ({kinds})", path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result = AckResult({"999": "999", "277": "277CA"}.get(kind, kind))
    with store.transaction() as session:
        if kind == "TA1":
            batch = _inbound_batch(session, kind, path, digest, len(ta1s), actor)
            if batch is None:
                result.duplicate = True
                return result
            _apply_ta1(session, ta1s, batch, path, actor, result)
        elif kind == "999":
            acks = read_999(path)
            batch = _inbound_batch(session, kind, path, digest, len(acks), actor)
            if batch is None:
                result.duplicate = True
                return result
            _apply_ta1(session, ta1s, batch, path, actor, result)
            for ack in acks:
                sent = session.get(X12Batch, int(ack.group_control)) if is_digits(ack.group_control) else None
                if sent is None or sent.direction != "out" or sent.kind != "837" or ack.functional_id != "HC":
                    result.unknown.append(f"group {ack.group_control} ({ack.functional_id or 'no AK1-01'})")
                    continue
                # each of our 837 groups holds one set (SET_CONTROL): a set the 999 names beyond it was
                # never ours, and a 999 listing sets but not ours says nothing about our claims
                listed = [s.set_control for s in ack.sets]
                result.unknown.extend(
                    f"group {ack.group_control} set {s}" for s in listed if s != SET_CONTROL
                )
                if listed and SET_CONTROL not in listed:
                    continue
                status = ack.set_status(SET_CONTROL)
                faults = _faults(sent, status)
                for claim in session.scalars(select(ClaimRow).where(ClaimRow.batch_id == sent.id)):
                    detail = _detail_999(status, faults, claim.claim_number)
                    _ack_claim(
                        session, claim, batch, "999", status.status, status.accepted, detail, actor, result
                    )
        else:
            acks277 = read_277ca(path)
            batch = _inbound_batch(session, kind, path, digest, len(acks277.claims), actor)
            if batch is None:
                result.duplicate = True
                return result
            _apply_ta1(session, ta1s, batch, path, actor, result)
            for status277 in acks277.claims:
                found = session.scalar(select(ClaimRow).where(ClaimRow.claim_number == status277.claim_id))
                if found is None:
                    result.unknown.append(status277.claim_id)
                    continue
                claim = found
                if claim.batch_id is None:  # a claim number we gave but never sent: not this claim
                    result.unknown.append(f"{status277.claim_id} (never sent)")
                    continue
                if status277.payer_claim_number:
                    claim.payer_claim_number = status277.payer_claim_number
                if status277.accepted or status277.rejected:
                    _ack_claim(
                        session,
                        claim,
                        batch,
                        "277CA",
                        status277.category,
                        status277.accepted,
                        status277.reason(),
                        actor,
                        result,
                    )
                else:
                    session.add(
                        ClaimAckRow(
                            claim_id=claim.id,
                            batch_id=batch.id,
                            kind="277CA",
                            status=status277.category,
                            detail=status277.reason(),
                            created_at=now(),
                        )
                    )
                    result.claims.append(
                        {
                            "claim_id": claim.claim_number,
                            "status": claim.status,
                            "ack": status277.category,
                            "detail": status277.reason(),
                        }
                    )
        append(
            session,
            actor,
            f"claims:ack{kind}",
            "x12_batch",
            batch.id,
            None,
            {"file": path.name, "claims": len(result.claims), "unknown": result.unknown},
        )
    return result


def _faults(sent: X12Batch, status: SetAck) -> dict[str, list[str]] | None:
    """The set's IK3/IK4 errors by the claim whose segments they name, read from the 837 we sent (one set
    holds every claim of the file: a 999 rejects or accepts them together, yet only a claim at fault needs
    correcting). None where they cannot be placed (the file gone or changed since, an error outside every
    claim, e.g. in the billing provider's loop): every claim is then told every error."""
    if not status.located:
        return None
    path = Path(sent.path)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    if hashlib.sha256(text.encode("ascii", errors="replace")).hexdigest() != sent.sha256:
        return None
    loops = claims_in_set(read_text(text, path))
    found: dict[str, list[str]] = {}
    for at, said in status.located:
        owners = next((numbers for first, last, numbers in loops if first <= at <= last), ())
        if not owners:
            return None
        for number in owners:
            found.setdefault(number, []).append(said)
    return found


def _detail_999(status: SetAck, faults: dict[str, list[str]] | None, number: str) -> str:
    """What a 999 says of one claim of its set: the errors in it, or that they are in other claims."""
    if faults is None:
        return "; ".join(status.errors) or f"IK5 {status.status}"
    own = faults.get(number)
    if own and status.accepted:
        return f"IK5 {status.status}, accepted with errors in this claim: " + "; ".join(own)
    if own:
        return f"IK5 {status.status}, errors in this claim (correct it, then send it again): " + "; ".join(
            own
        )
    others = ", ".join(sorted(faults))
    if status.accepted:
        return f"IK5 {status.status}: the errors are in {others}, none in this claim"
    return (
        f"IK5 {status.status}: rejected with its transaction set for the errors in {others}; none is in "
        "this claim: send it again as it is"
    )


def _ack_claim(
    session: Session,
    claim: ClaimRow,
    batch: X12Batch,
    kind: str,
    code: str,
    accepted: bool,
    detail: str,
    actor: str,
    result: AckResult,
) -> None:
    # The payer's 277CA outranks the clearinghouse's 999, whichever arrives first: a late 999 leaves
    # the payer's decision standing, and a payer accepting a claim a 999 rejected has it (sending it
    # again as a new original would be a duplicate, CO-18)
    payer_spoke = (
        session.scalar(
            select(ClaimAckRow.id)
            .where(ClaimAckRow.claim_id == claim.id, ClaimAckRow.kind == "277CA")
            .limit(1)
        )
        is not None
    )
    last = session.scalar(
        select(ClaimAckRow)
        .where(ClaimAckRow.claim_id == claim.id, ClaimAckRow.kind == kind)
        .order_by(ClaimAckRow.id.desc())
        .limit(1)
    )
    if last is not None and (last.status, last.detail) == (code, detail):
        # the same answer again in a new envelope (a clearinghouse resending its 999): already recorded
        result.claims.append(
            {
                "claim_id": claim.claim_number,
                "status": claim.status,
                "ack": code,
                "detail": f"{detail} (already recorded from an earlier file)",
            }
        )
        return
    session.add(
        ClaimAckRow(
            claim_id=claim.id, batch_id=batch.id, kind=kind, status=code, detail=detail, created_at=now()
        )
    )
    current = ClaimStatus(claim.status)
    movable = {ClaimStatus.EXPORTED, ClaimStatus.ACCEPTED}
    if kind == "277CA" and accepted and not payer_spoke:
        movable.add(ClaimStatus.REJECTED)
    if kind == "999" and payer_spoke:
        detail = f"{detail} (after the payer's 277CA, which stands)"
    elif current in movable:
        new = ClaimStatus.ACCEPTED if accepted else ClaimStatus.REJECTED
        move_claim(session, claim, new, actor, f"ack{kind.lower()}", {"code": code, "detail": detail})
    result.claims.append(
        {"claim_id": claim.claim_number, "status": claim.status, "ack": code, "detail": detail}
    )


def _apply_ta1(
    session: Session,
    acks: list[InterchangeAck],
    batch: X12Batch,
    path: Path,
    actor: str,
    result: AckResult,
) -> None:
    """Each TA1 on the claims of the interchange it answers (TA101 = the ISA13 of our 837, the batch id):
    ``R`` rejects them all (the receiver read none of them: they are sent again), ``A``/``E`` is recorded.
    A TA1 naming no interchange of ours refuses the file (nothing is stored)."""
    for ack in acks:
        sent = session.get(X12Batch, int(ack.control))  # TA101 is 9 digits: checked with the envelope
        if sent is None or sent.direction != "out" or sent.kind != "837":
            raise InputError(
                f"segment {ack.position} TA101",
                f"interchange {ack.control} is not one ECG Desk sent (no 837 interchange has ISA13 "
                f"{ack.control}); nothing was recorded",
                path,
            )
        detail = ack.reason()
        claims = select(ClaimRow).where(ClaimRow.batch_id == sent.id).order_by(ClaimRow.id)
        for claim in session.scalars(claims):
            earlier = session.scalars(
                select(ClaimAckRow).where(ClaimAckRow.claim_id == claim.id).order_by(ClaimAckRow.id)
            ).all()
            said = detail
            if any((a.kind, a.status, a.detail) == ("TA1", ack.status, detail) for a in earlier):
                said = f"{detail} (already recorded from an earlier file)"
            else:
                session.add(
                    ClaimAckRow(
                        claim_id=claim.id,
                        batch_id=batch.id,
                        kind="TA1",
                        status=ack.status,
                        detail=detail,
                        created_at=now(),
                    )
                )
                spoke = sorted({a.kind for a in earlier if a.kind in ("999", "277CA")})
                if ack.rejected and spoke:
                    # a 999 or 277CA answered from inside the interchange: it was read after all
                    said = f"{detail} (after the {'/'.join(spoke)}, which stands)"
                elif ack.rejected and claim.status == ClaimStatus.EXPORTED.value:
                    note: dict[str, object] = {"code": "R", "detail": detail}
                    move_claim(session, claim, ClaimStatus.REJECTED, actor, "ackta1", note)
                elif ack.rejected:
                    said = f"{detail} (the claim is {claim.status}: that stands)"
            result.claims.append(
                {"claim_id": claim.claim_number, "status": claim.status, "ack": ack.status, "detail": said}
            )
