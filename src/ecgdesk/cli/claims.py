"""Billing and claims commands: ``billing ...``, ``claims ...``, ``remit ...``, ``denials ...``, ``ar aging``.

Thin handlers: parse, call an ``ecgdesk.workflow.claims*`` function, print (``--json`` on each). The
workflow and X12 modules are imported inside the handlers, so ``ecgdesk --help`` stays fast. Bad input
(a broken X12 file, a claim that may not be exported, a missing set-up) exits 2 naming the file or claim,
the field and the reason; nothing is posted or written then.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from ecgdesk.cli._common import command_store, print_json


def _acting(args: argparse.Namespace, action: str) -> tuple[Any, str]:
    """The store and the authenticated acting user's audit name, after the permission check."""
    from ecgdesk.cli._auth import acting
    from ecgdesk.workflow.permissions import Action

    store = command_store()
    return store, acting(args, store, Action(action)).actor


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _show(args: argparse.Namespace, data: Any, text: str) -> int:
    if args.json:
        print_json(data)
    else:
        print(text)
    return 0


# -------------------------------------------------------------------------------------------- billing


def _cmd_billing_setup(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_setup import BillingSetup, setup_billing

    store, actor = _acting(args, "billing:setup")
    setup = BillingSetup(
        name=args.name,
        npi=args.npi,
        tin=args.tin,
        taxonomy=args.taxonomy,
        address1=args.address,
        address2=args.address2 or "",
        city=args.city,
        state=args.state,
        zip=args.zip,
        contact_name=args.contact,
        contact_phone=args.phone,
        submitter_id=args.submitter_id,
        claim_prefix=args.claim_prefix,
        charge_percent=args.charge_percent,
    )
    row_id = setup_billing(store, setup, actor)
    return _show(args, {"billing_provider": row_id}, f"billing provider {row_id} set up (default)")


def _cmd_clinician_add(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_setup import add_clinician

    store, actor = _acting(args, "billing:setup")
    row_id = add_clinician(store, args.npi, args.last, args.first or "", args.taxonomy or "", actor)
    return _show(args, {"clinician": row_id, "npi": args.npi}, f"clinician {args.npi} registered")


def _cmd_payer_add(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_setup import PayerSetup, add_payer

    store, actor = _acting(args, "billing:setup")
    setup = PayerSetup(
        name=args.name,
        payer_id=args.payer_id,
        filing_indicator=args.filing_indicator,
        rules_id=args.rules,
        timely_filing_days=args.timely_filing_days,
        receiver_id=args.receiver_id,
        receiver_name=args.receiver_name,
        usage="T" if args.test else "P",
    )
    row_id = add_payer(store, setup, actor)
    return _show(args, {"payer": args.payer_id, "id": row_id}, f"payer {args.payer_id} added ({args.rules})")


def _cmd_coverage_add(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_setup import CoverageSetup, add_coverage

    store, actor = _acting(args, "coverage:add")
    setup = CoverageSetup(
        patient_id=args.patient_id,
        payer_id=args.payer,
        member_id=args.member_id,
        address1=args.address,
        address2=args.address2 or "",
        city=args.city,
        state=args.state,
        zip=args.zip,
        relationship=args.relationship,
        priority=args.priority,
        group_number=args.group or "",
        subscriber_last=args.subscriber_last,
        subscriber_first=args.subscriber_first,
        subscriber_birth_date=args.subscriber_birth_date,
        subscriber_sex=args.subscriber_sex,
        effective_from=args.effective_from,
        effective_to=args.effective_to,
    )
    row_id = add_coverage(store, setup, actor)
    return _show(args, {"coverage": row_id}, f"coverage {row_id} added for patient {args.patient_id}")


def _cmd_billing_show(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_setup import billing_overview

    store, _ = _acting(args, "billing:read")
    overview = billing_overview(store).to_dict()
    billing = overview["billing"]
    lines = [
        f"billing provider: {billing['name']} NPI {billing['npi']}" if billing else "no billing provider"
    ]
    lines += [f"payer {p['payer_id']}: {p['name']} ({p['rules']})" for p in overview["payers"]]
    lines += [f"clinician {c['npi']}: {c['last']}, {c['first']}" for c in overview["clinicians"]]
    return _show(args, overview, "\n".join(lines))


# --------------------------------------------------------------------------------------------- claims


def _cmd_claims_create(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims import create_claim

    store, actor = _acting(args, "claim:create")
    made = create_claim(store, args.study_id, actor)
    if args.json:
        print_json(
            {"claim_id": made.claim_id, "status": made.status, "errors": made.errors, "recoded": made.recoded}
        )
    else:
        print(made.claim_id)
        if made.recoded:
            print(f"  coded again first (the stored coding was out of date): {'; '.join(made.recoded)}")
        for error in made.errors:
            print(f"  error: {error}")
    return 0


def _cmd_claims_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_views import list_claims

    store, actor = _acting(args, "claim:read")
    rows = list_claims(store, actor, status=args.status, study_id=args.study, payer=args.payer)
    text = "\n".join(
        f"{r.claim_id:12} {r.status:15} study {r.study_id} {r.patient:10} {r.payer:8} {r.charge:>10} "
        f"open {r.insurance_balance:>9} patient {r.patient_balance:>8}"
        for r in rows
    )
    return _show(args, [r.to_dict() for r in rows], text or "no claims")


def _cmd_claims_show(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_views import show_claim

    store, actor = _acting(args, "claim:read")
    detail = show_claim(store, args.claim, actor)
    s = detail.summary
    lines = [f"claim {s.claim_id} ({s.status}, frequency {s.frequency}) study {s.study_id} payer {s.payer}"]
    # the claims this one is linked to, as --json and the API name them
    if detail.replaces:
        lines.append(f"  replaces {detail.replaces}")
    if detail.replaced_by:
        lines.append(f"  replaced by {', '.join(detail.replaced_by)}")
    if detail.superseded:
        lines.append(f"  {detail.superseded}")
    if detail.secondary_of:
        lines.append(f"  secondary claim of {detail.secondary_of}")
    if detail.secondary_claims:
        lines.append(f"  share billed to the secondary on {', '.join(detail.secondary_claims)}")
    lines += [
        f"  line {x['line']} {x['code']}{''.join('-' + m for m in x['modifiers'])} x{x['units']} "
        f"{x['charge']} paid {x['payment']} denied {x['denial']} patient {x['patient']}"
        + (f" (denial overturned {x['denial_overturned']})" if x["denial_overturned"] != "0.00" else "")
        for x in detail.lines
    ]
    lines += [f"  balance: {k} {v}" for k, v in detail.balance.items()]
    lines += [
        f"  {f['severity']}: [{f['source']}/{f['rule']}] {f['message']}"
        for f in detail.findings
        if f["severity"] != "info"
    ]
    lines += [
        f"  {h['at'][:19]} {h['actor']}: {h['action']} -> {h['after'].get('status', '')}"
        for h in detail.history
    ]
    lines += [
        f"  denial {d.id}: {d.group}-{d.carc} {d.amount} {d.category} -> {d.next_action} by {d.deadline} "
        f"[{d.status}]"
        for d in detail.denials
    ]
    lines += [
        f"  remittance {r['trace_number']}: paid under the insured as the payer corrected it: "
        f"{r['corrected_insured']} (set the coverage right)"
        for r in detail.remittances
        if r["corrected_insured"]
    ]
    lines += [
        f"  PLB {p['reason']} {p['amount']} naming {p['reference']} ({p['payer']} {p['trace_number']})"
        for p in detail.provider_adjustments
    ]
    return _show(args, detail.to_dict(), "\n".join(lines))


def _cmd_claims_export(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_export import export_claims

    store, actor = _acting(args, "claim:export")
    files = export_claims(store, Path(args.out), actor, payer=args.payer, claim_refs=args.claim or ())
    data = {"files": [{"path": str(f.path), "payer": f.payer, "claims": f.claims} for f in files]}
    text = "\n".join(f"{f.path}: {len(f.claims)} claim(s) for payer {f.payer}" for f in files)
    return _show(args, data, text or "no claim is ready to export")


def _cmd_claims_ack(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_acks import apply_ack

    store, actor = _acting(args, "claim:ack")
    result = apply_ack(store, Path(args.file), actor)
    lines = [
        f"{result.kind}: already applied, nothing changed" if result.duplicate else f"{result.kind} applied"
    ]
    lines += [f"  {c['claim_id']}: {c['status']} ({c['detail']})" for c in result.claims]
    lines += [f"  not ours: {u}" for u in result.unknown]
    return _show(args, result.to_dict(), "\n".join(lines))


def _cmd_claims_correct(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_export import ClaimEdits, LineEdit, correct_claim

    store, actor = _acting(args, "claim:correct")
    edits = []
    for number in args.line or ():
        edits.append(
            LineEdit(
                number,
                code=args.code,
                modifiers=tuple(args.modifiers.split(",")) if args.modifiers is not None else None,
                units=args.units,
            )
        )
    made = correct_claim(
        store,
        args.claim,
        actor,
        ClaimEdits(
            tuple(edits),
            tuple(args.drop_line or ()),
            tuple(args.diagnosis) if args.diagnosis else None,
            args.prior_authorization,
        ),
    )
    data = {
        "original": made.original,
        "claim_id": made.claim_id,
        "frequency": made.frequency,
        "status": made.status,
        "errors": made.errors,
    }
    return _show(
        args, data, f"{made.claim_id} (frequency {made.frequency}, {made.status}) replaces {made.original}"
    )


def _cmd_claims_simulate(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_demo import simulate_payer

    store, actor = _acting(args, "claim:read")
    files = simulate_payer(store, Path(args.file), Path(args.out), actor, tuple(args.deny or ()))
    data = {"999": str(files.ack999), "277CA": str(files.ack277), "835": str(files.remit835)}
    return _show(args, data, "\n".join(f"{k:6} {v}" for k, v in data.items()))


# ---------------------------------------------------------------------------------- remit / denials


def _cmd_remit_post(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_inbound import post_remittance

    store, actor = _acting(args, "remit:post")
    result = post_remittance(store, Path(args.file), actor).to_dict()
    for claim in result["claims"]:
        for adjustment in claim["adjustments"]:
            adjustment["rarc"] = ",".join(adjustment["rarc"]) or None
    lines = [f"posted {result['posted']} claim payment(s)"]
    lines += [
        f"  {c['claim_id']}: {c['status']} paid {c['paid']} patient {c['patient_responsibility']}"
        for c in result["claims"]
    ]
    lines += [
        f"  {c['claim_id']}: paid under the insured as the payer corrected it: {c['corrected_insured']}"
        for c in result["claims"]
        if c.get("corrected_insured")
    ]
    lines += [f"  unmatched {u['claim_id']}: {u['reason']}" for u in result["unmatched"]]
    lines += [f"  duplicate {d['trace_number']}: {d['reason']}" for d in result["duplicates"]]
    return _show(args, result, "\n".join(lines))


def _cmd_remit_unmatched(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_inbound import unmatched

    store, actor = _acting(args, "claim:read")
    rows = unmatched(store, actor, include_resolved=args.all)
    text = "\n".join(
        f"{u['id']}: {u['claim_id']} paid {u['paid']} ({u['payer']} {u['trace_number']}) {u['reason']}"
        for u in rows
    )
    return _show(args, rows, text or "no unmatched remittances")


def _cmd_denials_list(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_denials import list_denials

    store, actor = _acting(args, "claim:read")
    rows = list_denials(
        store, actor, status=None if args.all else "open", claim=args.claim, category=args.category
    )
    text = "\n".join(
        f"{d.id:5} {d.claim_id:12} line {d.line} {d.code} {d.group}-{d.carc} {d.amount:>9} {d.category:22} "
        f"-> {d.next_action} by {d.deadline} [{d.status}]"
        for d in rows
    )
    return _show(args, [d.to_dict() for d in rows], text or "no denial items")


def _cmd_denials_work(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_denials import work_denial

    store, actor = _acting(args, "denial:work")
    result = work_denial(store, args.item, args.action, actor, note=args.note or "")
    extra = f"; letter {result.letter}" if result.letter else ""
    extra += f"; new claim {result.new_claim}" if result.new_claim else ""
    return _show(
        args, result.to_dict(), f"item {args.item}: {args.action} done, claim {result.claim_status}{extra}"
    )


def _cmd_ar_aging(args: argparse.Namespace) -> int:
    from ecgdesk.workflow.claims_views import BUCKETS, ar_aging

    store, _ = _acting(args, "ar:read")
    report = ar_aging(store, args.as_of).to_dict()
    header = f"{'payer':12}" + "".join(f"{b:>12}" for b in BUCKETS) + f"{'total':>12}"
    rows = [
        f"{r['payer']:12}" + "".join(f"{r['buckets'][b]:>12}" for b in BUCKETS) + f"{r['total']:>12}"
        for r in report["payers"]
    ]
    total = (
        f"{'all':12}"
        + "".join(f"{report['total'][b]:>12}" for b in BUCKETS)
        + f"{report['total']['total']:>12}"
    )
    return _show(args, report, "\n".join([f"A/R aging as of {report['as_of']}", header, *rows, total]))


# ------------------------------------------------------------------------------------------- parsers


def _common() -> argparse.ArgumentParser:
    from ecgdesk.cli._auth import add_auth_options

    parent = argparse.ArgumentParser(add_help=False)
    add_auth_options(parent)
    parent.add_argument("--json", action="store_true", help="print JSON")
    return parent


def _register_billing(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    billing = subparsers.add_parser("billing", help="billing set-up: billing provider, payers, coverage")
    sub = billing.add_subparsers(dest="billing_command", metavar="BILLING_COMMAND", required=True)
    setup = sub.add_parser("setup", parents=[common], help="the billing provider (practice or IDTF)")
    setup.add_argument("--name", required=True)
    setup.add_argument("--npi", required=True)
    setup.add_argument("--tin", required=True, help="9-digit employer identification number")
    setup.add_argument("--taxonomy", required=True, help="provider taxonomy code, e.g. 261QD0000X (IDTF)")
    setup.add_argument("--address", required=True, help="street address (no PO box)")
    setup.add_argument("--address2")
    setup.add_argument("--city", required=True)
    setup.add_argument("--state", required=True)
    setup.add_argument("--zip", required=True, help="9-digit ZIP+4")
    setup.add_argument("--contact", required=True, help="EDI contact name")
    setup.add_argument("--phone", required=True, help="EDI contact phone")
    setup.add_argument("--submitter-id", required=True, help="EDI submitter id (ISA06, NM1*41)")
    setup.add_argument("--claim-prefix", default="ECG", help="claim number prefix (capital letters)")
    setup.add_argument("--charge-percent", type=int, default=200, help="charges as %% of the Medicare amount")
    setup.set_defaults(func=_cmd_billing_setup)

    clinician = sub.add_parser("clinician", help="rendering and ordering clinicians")
    clinician_sub = clinician.add_subparsers(dest="clinician_command", required=True)
    add = clinician_sub.add_parser("add", parents=[common], help="register a clinician by NPI")
    add.add_argument("--npi", required=True)
    add.add_argument("--last", required=True)
    add.add_argument("--first")
    add.add_argument("--taxonomy")
    add.set_defaults(func=_cmd_clinician_add)

    payer = sub.add_parser("payer", help="payers")
    payer_sub = payer.add_subparsers(dest="payer_command", required=True)
    add = payer_sub.add_parser("add", parents=[common], help="add or update a payer")
    add.add_argument("--name", required=True)
    add.add_argument("--payer-id", required=True)
    add.add_argument(
        "--filing-indicator", required=True, help="claim filing indicator: MB, CI, MC, BL, HM ..."
    )
    add.add_argument("--rules", required=True, help="payer rule set: medicare-mac, commercial-default, ...")
    add.add_argument("--timely-filing-days", type=int)
    add.add_argument("--receiver-id", help="EDI receiver id (ISA08), default the payer id")
    add.add_argument("--receiver-name")
    add.add_argument("--test", action="store_true", help="send as test data (ISA15 T)")
    add.set_defaults(func=_cmd_payer_add)

    coverage = sub.add_parser("coverage", help="patients' coverage")
    coverage_sub = coverage.add_subparsers(dest="coverage_command", required=True)
    add = coverage_sub.add_parser("add", parents=[common], help="add a patient's coverage")
    add.add_argument("--patient-id", required=True)
    add.add_argument("--payer", required=True, help="payer id")
    add.add_argument("--member-id", required=True)
    add.add_argument("--relationship", default="self", choices=["self", "spouse", "child", "other"])
    add.add_argument("--priority", default="primary", choices=["primary", "secondary", "tertiary"])
    add.add_argument("--group")
    add.add_argument("--address", required=True, help="the subscriber's street address")
    add.add_argument("--address2")
    add.add_argument("--city", required=True)
    add.add_argument("--state", required=True)
    add.add_argument("--zip", required=True)
    add.add_argument("--subscriber-last")
    add.add_argument("--subscriber-first")
    add.add_argument("--subscriber-birth-date", type=_date)
    add.add_argument("--subscriber-sex", choices=["F", "M", "U"])
    add.add_argument("--effective-from", type=_date)
    add.add_argument("--effective-to", type=_date)
    add.set_defaults(func=_cmd_coverage_add)

    show = sub.add_parser("show", parents=[common], help="the billing set-up")
    show.set_defaults(func=_cmd_billing_show)


def register(subparsers: argparse._SubParsersAction) -> None:
    common = _common()
    _register_billing(subparsers, common)

    claims = subparsers.add_parser("claims", help="claims: create, list, show, export 837P, acks, correct")
    sub = claims.add_subparsers(dest="claims_command", metavar="CLAIMS_COMMAND", required=True)
    create = sub.add_parser("create", parents=[common], help="build and scrub the claim of a coded study")
    create.add_argument("study_id", type=int)
    create.set_defaults(func=_cmd_claims_create)
    listing = sub.add_parser("list", parents=[common], help="claims with status and balances")
    listing.add_argument("--status")
    listing.add_argument("--study", type=int)
    listing.add_argument("--payer")
    listing.set_defaults(func=_cmd_claims_list)
    show = sub.add_parser("show", parents=[common], help="one claim: lines, states, remittances, denials")
    show.add_argument("claim", help="claim id (CLM01) or number")
    show.set_defaults(func=_cmd_claims_show)
    export = sub.add_parser("export", parents=[common], help="write 837P files, one per payer")
    export.add_argument("--out", required=True, help="folder for the files")
    export.add_argument("--payer", help="only this payer id")
    export.add_argument("--claim", action="append", help="only these claims (refused if not exportable)")
    export.set_defaults(func=_cmd_claims_export)
    ack = sub.add_parser("ack", parents=[common], help="apply a TA1, 999 or 277CA acknowledgement")
    ack.add_argument("file")
    ack.set_defaults(func=_cmd_claims_ack)
    correct = sub.add_parser("correct", parents=[common], help="replacement (freq 7) or new original claim")
    correct.add_argument("claim")
    correct.add_argument("--line", type=int, action="append", help="line number to change (repeatable)")
    correct.add_argument("--code", help="new code for --line")
    correct.add_argument("--modifiers", help="new modifiers for --line, comma separated ('' for none)")
    correct.add_argument("--units", type=int, help="new units for --line")
    correct.add_argument("--drop-line", type=int, action="append")
    correct.add_argument("--diagnosis", action="append", help="replace the diagnoses (repeatable)")
    correct.add_argument("--prior-authorization")
    correct.set_defaults(func=_cmd_claims_correct)
    simulate = sub.add_parser(
        "simulate-payer", parents=[common], help="demo/training: a simulated payer's 999, 277CA and 835"
    )
    simulate.add_argument("file", help="an 837P written by 'claims export'")
    simulate.add_argument("--out", required=True, help="folder for the payer's files")
    simulate.add_argument("--deny", action="append", help="deny this code (CO-50 N115), repeatable")
    simulate.set_defaults(func=_cmd_claims_simulate)

    remit = subparsers.add_parser("remit", help="835 remittances: post, unmatched queue")
    remit_sub = remit.add_subparsers(dest="remit_command", metavar="REMIT_COMMAND", required=True)
    post = remit_sub.add_parser(
        "post", parents=[common], help="post an 835 (refused whole if it does not balance)"
    )
    post.add_argument("file")
    post.set_defaults(func=_cmd_remit_post)
    queue = remit_sub.add_parser("unmatched", parents=[common], help="payments for claims we cannot find")
    queue.add_argument("--all", action="store_true", help="resolved ones too")
    queue.set_defaults(func=_cmd_remit_unmatched)

    denials = subparsers.add_parser("denials", help="the denial work queue")
    denials_sub = denials.add_subparsers(dest="denials_command", metavar="DENIALS_COMMAND", required=True)
    listing = denials_sub.add_parser("list", parents=[common], help="open items by deadline")
    listing.add_argument("--all", action="store_true", help="worked items too")
    listing.add_argument("--claim")
    listing.add_argument("--category")
    listing.set_defaults(func=_cmd_denials_list)
    work = denials_sub.add_parser("work", parents=[common], help="work one item")
    work.add_argument("item", type=int)
    work.add_argument(
        "--action",
        required=True,
        choices=[
            "correct",
            "reopening",
            "new_original",
            "appeal",
            "bill_patient",
            "bill_secondary",
            "write_off",
            "refund",
            "recover",
        ],
    )
    work.add_argument("--note")
    work.set_defaults(func=_cmd_denials_work)

    ar = subparsers.add_parser("ar", help="accounts receivable")
    ar_sub = ar.add_subparsers(dest="ar_command", metavar="AR_COMMAND", required=True)
    aging = ar_sub.add_parser(
        "aging", parents=[common], help="open balances by payer: 0-30, 31-60, 61-90, 90+"
    )
    aging.add_argument("--as-of", type=_date)
    aging.set_defaults(func=_cmd_ar_aging)
