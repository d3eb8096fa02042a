"""Coding commands: ``code``, ``scrub``, ``codes search|show``, ``refdata import|list``."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecgdesk.cli._common import print_json, progress
from ecgdesk.coding.facts import parse_date
from ecgdesk.coding.release import TableKind
from ecgdesk.errors import InputError, check_option

if TYPE_CHECKING:  # the engines are imported inside the commands (a fast ``ecgdesk --help``)
    from ecgdesk.coding.lookup import CodeReport
    from ecgdesk.coding.refdata import RefData, RefStore
    from ecgdesk.coding.results import Finding


def _read_json(path: str) -> Any:
    from ecgdesk import jsonfile

    return jsonfile.read(path)


def _store(args: argparse.Namespace) -> RefStore:
    from ecgdesk.coding.refdata import RefStore

    return RefStore(args.refdata_dir)


def _refdata(args: argparse.Namespace) -> RefData:
    from ecgdesk.coding.refdata import RefData

    store = _store(args)
    return RefData(store if store.root.is_dir() else None)


def _date(text: str) -> date:
    return parse_date(text, "--date")


def _print_findings(findings: list[Finding]) -> None:
    for f in findings:
        where = f"line {f.line}" if f.line is not None else "claim"
        carc = f" CARC {f.carc}" if f.carc else ""
        print(f"{f.severity.value.upper():7} {where:8} {f.code or '':6} [{f.rule}{carc}] {f.message}")
        if f.fix:
            print(f"{'':24} fix: {f.fix}")


def _cmd_code(args: argparse.Namespace) -> int:
    from ecgdesk.coding.facts import facts_from_dict
    from ecgdesk.coding.scrub import scrub
    from ecgdesk.coding.selection import claim_for, select_codes

    facts = facts_from_dict(_read_json(args.facts), source=args.facts)
    try:
        result = select_codes(facts)
    except InputError as error:  # a refusal of the facts' content: name the file they came from
        if error.source is not None:
            raise
        raise InputError(error.field, error.reason, source=args.facts) from error
    if facts.distinct_modifier is not None:  # a facts file alone has no other claims: its own lines only
        from ecgdesk.coding.distinct import apply_distinct

        result = apply_distinct(facts.distinct_modifier, result, claim_for(facts, result), (), _refdata(args))
    findings = scrub(claim_for(facts, result), refdata=_refdata(args)) if args.scrub else None
    if args.json:
        data = result.to_dict()
        if findings is not None:
            data["scrub"] = [f.to_dict() for f in findings]
        print_json(data)
        return 0
    for line in result.lines:
        modifiers = "-" + "-".join(line.modifiers) if line.modifiers else ""
        print(f"{line.code}{modifiers} x{line.units}")
    for sentence in result.explanations:
        print(f"  - {sentence}")
    _print_findings(result.findings)
    if findings is not None:
        print("scrub of these lines:" if findings else "scrub of these lines: no findings")
        _print_findings(findings)
    return 0


def _cmd_scrub(args: argparse.Namespace) -> int:
    from ecgdesk.coding.facts import claim_from_dict, history_from_list
    from ecgdesk.coding.results import Severity
    from ecgdesk.coding.scrub import scrub

    claim = claim_from_dict(_read_json(args.claim), source=args.claim)
    history = history_from_list(_read_json(args.history), source=args.history) if args.history else ()
    findings = scrub(claim, history, refdata=_refdata(args))
    if args.json:
        print_json({"findings": [f.to_dict() for f in findings]})
    elif findings:
        _print_findings(findings)
    else:
        print("clean: no findings")
    return 1 if any(f.severity is Severity.ERROR for f in findings) else 0


def _cmd_codes_search(args: argparse.Namespace) -> int:
    from ecgdesk.coding.lookup import search

    found = search(" ".join(args.text))
    if args.json:
        print_json(
            [
                {"code": i.code, "family": i.family.value, "part": i.part.value, "paraphrase": i.paraphrase}
                for i in found
            ]
        )
        return 0
    for info in found:
        print(f"{info.code}  {info.family.value:22} {info.part.value:12} {info.paraphrase}")
    if not found:
        print("no code matches")
    return 0


PARTNERS_SHOWN = 30


def _print_report(report: CodeReport, args_all: bool = False) -> None:
    from ecgdesk.coding.codes import code_table

    info = report.info
    meaning = "unknown to the code table" if info is None else info.paraphrase
    print(f"{report.code} on {report.day.isoformat()}: {meaning}")
    if info is not None:
        parts = ", ".join(sorted(c.value for c in info.components)) or "-"
        print(
            f"  family {info.family.value}, {info.part.value} part; components: {parts}; PC/TC {info.pctc}; "
            f"per 30 days: {info.per_30_days}"
        )
        start = info.valid_from.isoformat() if info.valid_from else "before our records"
        end = info.valid_to.isoformat() if info.valid_to else "now"
        replaced = f"; replaced by {', '.join(info.replaced_by)}" if info.replaced_by else ""
        state = "VALID" if report.valid else "NOT VALID"
        print(f"  valid from {start} to {end} -> {state} on this date{replaced}")
    for setting, limit in report.mue.items():
        print(f"  MUE {setting.value}: {limit.value} (MAI {limit.mai})")
    for row in report.rvus:
        mod = f"-{row.modifier}" if row.modifier else ""
        facility = "NA" if row.facility_na else row.total_facility
        in_facility = "not payable" if row.payment_facility is None else f"${row.payment_facility:.2f}"
        print(
            f"  RVU {report.code}{mod}: work {row.work_rvu}, total non-facility {row.total_nonfacility}, "
            f"facility {facility}; national payment ${row.payment_nonfacility:.2f} non-facility, "
            f"{in_facility} facility (CF {row.conversion_factor})"
        )
    family = set(code_table())
    ordered = sorted(report.partners, key=lambda p: (p.partner not in family, p.setting.value, p.partner))
    shown = ordered if args_all else ordered[:PARTNERS_SHOWN]
    for p in shown:
        arrow = f"bundles {p.partner}" if p.role == "column1" else f"bundled into {p.partner}"
        print(f"  PTP {p.setting.value}: {arrow} (indicator {p.indicator}; {p.rationale})")
    if len(ordered) > len(shown):
        print(f"  ... and {len(ordered) - len(shown)} more PTP edits (--all or --json lists them)")
    print("  releases: " + ", ".join(f"{k}={v}" for k, v in report.releases.items()))


def _cmd_codes_show(args: argparse.Namespace) -> int:
    from ecgdesk.coding.lookup import show

    report = show(args.code, _date(args.date) if args.date else date.today(), _refdata(args))
    if args.json:
        print_json(report.to_dict())
    else:
        _print_report(report, args.all)
    return 0


def _cmd_refdata_import(args: argparse.Namespace) -> int:
    from ecgdesk.coding.facts import Setting
    from ecgdesk.coding.importers import ImportOptions, import_files

    kind = TableKind(check_option("kind", args.kind, [k.value for k in TableKind]))
    setting = (
        Setting(check_option("--setting", args.setting, [s.value for s in Setting])) if args.setting else None
    )
    options = ImportOptions(
        args.release_id, parse_date(args.effective, "--effective") if args.effective else None, setting
    )
    paths = [Path(p) for p in args.files]
    with progress(len(paths), f"import {kind.value}", unit="file") as bar:
        table = import_files(kind, paths, options, on_file=lambda _path: bar.update(1))
    saved = _store(args).save(table)
    print(
        f"imported {kind.value} release {saved.id}: {saved.rows} rows, "
        f"effective {saved.effective.isoformat()}, "
        f"settings {', '.join(s.value for s in saved.settings)}, sha256 {saved.checksum[:16]}"
    )
    return 0


def _cmd_refdata_list(args: argparse.Namespace) -> int:
    releases = _store(args).releases()
    if args.json:
        print_json([r.to_dict() for r in releases])
        return 0
    if not releases:
        print(f"no imported releases in {_store(args).root}; the built-in baseline is used")
    for r in releases:
        print(
            f"{r.kind.value:4} {r.id:28} effective {r.effective.isoformat()} rows {r.rows:6} "
            f"{','.join(s.value for s in r.settings)} sha256 {r.checksum[:12]}"
        )
    return 0


def _refdata_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--refdata-dir",
        default=None,
        help="reference-data store (default $ECGDESK_REFDATA_DIR or ~/.local/share/ecgdesk/refdata)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the coding commands."""
    p = subparsers.add_parser("code", help="choose CPT/HCPCS lines for a FACTS.json of a furnished service")
    p.add_argument("facts", metavar="FACTS.json")
    p.add_argument("--json", action="store_true", help="print lines, explanations and findings as JSON")
    p.add_argument("--scrub", action="store_true", help="also scrub the chosen lines as a claim")
    _refdata_option(p)
    p.set_defaults(func=_cmd_code)

    p = subparsers.add_parser("scrub", help="check a CLAIM.json for denials; exit 1 when errors are found")
    p.add_argument("claim", metavar="CLAIM.json")
    p.add_argument(
        "--history", metavar="HISTORY.json", help="earlier claims of the same patient (JSON array)"
    )
    p.add_argument("--json", action="store_true")
    _refdata_option(p)
    p.set_defaults(func=_cmd_scrub)

    codes = subparsers.add_parser("codes", help="look up codes").add_subparsers(
        dest="codes_command", metavar="ACTION", required=True
    )
    p = codes.add_parser("search", help="search code paraphrases")
    p.add_argument("text", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_codes_search)
    p = codes.add_parser("show", help="one code: meaning, history, PTP partners, MUE, RVUs and payment")
    p.add_argument("code")
    p.add_argument("--date", help="date of service YYYY-MM-DD (default today)")
    p.add_argument("--all", action="store_true", help="list every PTP edit (default: the first 30)")
    p.add_argument("--json", action="store_true")
    _refdata_option(p)
    p.set_defaults(func=_cmd_codes_show)

    refdata = subparsers.add_parser("refdata", help="import and list CMS reference releases").add_subparsers(
        dest="refdata_command", metavar="ACTION", required=True
    )
    p = refdata.add_parser("import", help="import CMS PTP, MUE or PFS RVU files as one release")
    p.add_argument("kind", choices=[k.value for k in TableKind])
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--release-id", help="release id (default <kind>-<effective date>)")
    p.add_argument("--effective", help="effective date YYYY-MM-DD (default: from the file names)")
    p.add_argument("--setting", help="practitioner or hospital_outpatient (default: from the file name)")
    _refdata_option(p)
    p.set_defaults(func=_cmd_refdata_import)
    p = refdata.add_parser("list", help="list imported releases")
    p.add_argument("--json", action="store_true")
    _refdata_option(p)
    p.set_defaults(func=_cmd_refdata_list)
