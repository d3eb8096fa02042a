"""The non-recording half of the hostile-input corpus of ``bench/fuzz_hostile.py`` (issue 19): X12 999,
277CA and 835 files, HL7 v2 and FHIR orders, monitoring criteria, and the coding JSON (facts, claims), each
valid base mutated (truncations, byte flips, encodings, sizes, nesting, absurd values, wrong types, missing
fields, wrong formats), plus the study database the commands that take them need.

The bases are built here (the simulated payer's 999/277CA/835, the HL7/FHIR orders of the interop tests'
builders) or copied from ../shared/data into the scratch folder (two 835 files of the linuxforhealth X12
samples); none of them was used while the guards were written.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fuzz_corpus import DATA, Case

ROOT = Path(__file__).resolve().parents[1]
PIN = "demo-2468"
NPI = "1245319599"
#: kind -> (command words before the file, user); ``{enrolment}`` is the monitoring enrolment's id
COMMANDS: dict[str, tuple[list[str], str]] = {
    "ack999": (["claims", "ack"], "bill"),
    "ack277": (["claims", "ack"], "bill"),
    "remit835": (["remit", "post"], "bill"),
    "orm": (["interop", "import"], "tech"),
    "fhir": (["interop", "import"], "tech"),
    "criteria": (["monitor", "criteria", "{enrolment}", "--sign", "--file"], "dr"),
    "facts": (["code"], "tech"),
    "claim": (["scrub"], "tech"),
}
Text = Callable[[str, random.Random], str | bytes]
Doc = Callable[[Any], Any]


# ---------------------------------------------------------------------------------------------- bases
def _bases() -> dict[str, list[tuple[str, str]]]:
    """kind -> [(file name, text)]."""
    sys.path[:0] = [str(ROOT / "tests" / "claims"), str(ROOT / "tests" / "interop")]
    from claims_builders import claim, line
    from interop_builders import orm, service_request

    from ecgdesk.claims.payer_sim import (
        ClaimStatus,
        Parties,
        PayerProfile,
        adjudicate,
        write_277ca,
        write_835,
        write_999,
    )

    parties = Parties("MEDICARE PART B", "1999999999", "HEART DIAGNOSTICS IDTF", "1234567893")
    claims = [claim(), claim("ECG000002", line("ECG000002L1", "93010", "25.50"))]
    criteria = (ROOT / "src" / "ecgdesk" / "monitoring" / "data" / "default_criteria.json").read_text()
    facts = {
        "service": "ambulatory_ecg",
        "setting": "practitioner",
        "place_of_service": "11",
        "start": "2024-08-01",
        "end": "2024-08-03",
        "recorded_hours": 48.0,
        "components": ["recording", "scanning", "interpretation"],
        "diagnoses": ["R00.2"],
    }
    lines = [
        {"code": code, "modifiers": [], "units": 1, "date_of_service": day, "diagnosis_pointers": [1]}
        for code, day in (("93224", "2024-08-01"), ("93000", "2024-08-05"))
    ]
    claim_doc = {
        "setting": "practitioner",
        "place_of_service": "11",
        "provider_id": "1234567893",
        "ordering_provider_npi": NPI,
        "diagnoses": ["R00.2"],
        "lines": lines,
        "interpretation_signed": True,
        "recorded_hours": 48,
    }
    payer = PayerProfile("MEDICARE PART B", "12345", fee_schedule={"93000": Decimal("14.31")})
    x12 = DATA / "x12" / "linuxforhealth" / "835"
    return {
        "ack999": [
            ("accepted.999", write_999("42", ["0001"], True, parties)),
            ("rejected.999", write_999("43", ["0001", "0002"], False, parties)),
        ],
        "ack277": [
            (
                "status.277",
                write_277ca(
                    [
                        ClaimStatus(claims[0], "A2", "20", payer_claim_number="2201"),
                        ClaimStatus(claims[1], "A7", "562", "85"),
                    ],
                    parties,
                ),
            )
        ],
        "remit835": [
            ("paid.835", write_835(adjudicate(claims, payer), parties, "EFT1", date(2026, 12, 1))),
            *((name, (x12 / name).read_text()) for name in ("managed-care.835", "medicare-part-a.835")),
        ],
        "orm": [
            ("order.hl7", orm(npi=NPI)),
            ("oml.hl7", orm("C2", placer="PL-7", npi=NPI, kind="OML^O21^OML_O21")),
        ],
        "fhir": [("order.json", json.dumps(service_request(npi=NPI), indent=1))],
        "criteria": [("criteria.json", criteria)],
        "facts": [("facts.json", json.dumps(facts))],
        "claim": [("claim.json", json.dumps(claim_doc))],
    }


# ------------------------------------------------------------------------------------------ mutations
def _flip(count: int) -> Text:
    def apply(text: str, rng: random.Random) -> bytes:
        raw = bytearray(text.encode())
        for _ in range(count):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return bytes(raw)

    return apply


def _grow(text: str, _rng: random.Random) -> str:  # just under 10 MB
    return text * max(1, (9 << 20) // max(1, len(text)))


GENERIC: dict[str, Text] = {
    "empty": lambda t, r: "",
    "truncated-40": lambda t, r: t[:40],
    "truncated-half": lambda t, r: t[: len(t) // 2],
    "random-bytes": lambda t, r: r.randbytes(3000),
    "garbage-appended": lambda t, r: t.encode() + r.randbytes(999),
    "non-utf8": lambda t, r: t.encode()[: len(t) // 3] + b"\xff\xfe\xc3(" + t.encode()[len(t) // 3 :],
    "nul-bytes": lambda t, r: t.replace(t[len(t) // 2], "\x00", 3),
    "utf16": lambda t, r: t.encode("utf-16"),
    "repeated-9MB": _grow,
    "flip-1": _flip(1),
    "flip-8": _flip(8),
    "flip-64": _flip(64),
}


def _x12(old: str, new: str, count: int = 1) -> Text:
    return lambda t, r: t.replace(old, new, count)


def _x12_element(segment: str, index: int, value: str) -> Text:
    def apply(text: str, _rng: random.Random) -> str:
        terminator = "~" if "~" in text else "\n"
        parts = text.split(terminator)
        for i, seg in enumerate(parts):
            fields = seg.strip().split("*")
            if fields[0] == segment and len(fields) > index:
                fields[index] = value
                parts[i] = "\n" * seg.startswith("\n") + "*".join(fields)
                break
        return terminator.join(parts)

    return apply


X12: dict[str, Text] = {
    "terminator-swapped": _x12("~", "!", -1),
    "separator-swapped": _x12("*", "|", -1),
    "isa-short": lambda t, r: t[:50] + t[106:],
    "no-isa": lambda t, r: t[t.index("GS*") :],
    "se-count-huge": _x12_element("SE", 1, "999999999999"),
    "control-letters": _x12_element("ST", 2, "ABCD"),
    "gs-version-wrong": _x12_element("GS", 8, "004010"),
    "date-13th-month": _x12_element("GS", 4, "20261399"),
    "isa-repeated-9MB": lambda t, r: t[: t.index("GS*")] * ((9 << 20) // max(1, t.index("GS*"))) + t,
    "element-1MB": _x12_element("N1", 2, "X" * 1_000_000),
    "segments-unknown": _x12("~GS*", "~ZZZ*1*2~GS*"),
    "st-type-837": _x12_element("ST", 1, "837"),
}
X12_835: dict[str, Text] = {
    "bpr-amount-1e308": _x12_element("BPR", 2, "1" + "0" * 308),
    "clp-amount-nan": _x12_element("CLP", 3, "NaN"),
    "clp-paid-negative-huge": _x12_element("CLP", 4, "-99999999999999999999"),
    "svc-code-fullwidth": _x12_element("SVC", 1, "HC:\uff19\uff13\uff10\uff10\uff10"),
    "cas-reason-huge-count": _x12_element("CAS", 4, "1e9"),
    "dtm-date-bad": _x12_element("DTM", 2, "20260231"),
}
X12_277: dict[str, Text] = {
    "stc-unknown": _x12_element("STC", 1, "ZZ:999"),
    "trn-missing": _x12("TRN*", "TRX*", -1),
}
HL7: dict[str, Text] = {
    "msh-missing": lambda t, r: t[t.index("\r") + 1 :],
    "separators-wrong": _x12("|^~\\&", "#@!?%", 1),
    "field-1MB": lambda t, r: t.replace("Doe^Jane", "D" * 1_000_000, 1),
    "dob-13th-month": lambda t, r: t.replace("19560314", "19561399", 1),
    "npi-fullwidth": lambda t, r: t.replace(NPI, "".join(chr(0xFF10 + int(c)) for c in NPI), 1),
    "trigger-unknown": lambda t, r: t.replace("ORM^O01^ORM_O01", "ORM^O99^ORM_O99", 1),
    "segments-100k": lambda t, r: t + "NTE|1||x\r" * 100_000,
    "latin1": lambda t, r: t.replace("Doe^Jane", "Doë^Jané").encode("latin-1"),
    "lf-not-cr": lambda t, r: t.replace("\r", "\n"),
    "version-9": lambda t, r: t.replace("|2.5.1", "|9.9", 1),
    "fhir-instead": lambda t, r: '{"resourceType": "Patient"}',
}


def _json(change: Doc) -> Text:
    def apply(text: str, _rng: random.Random) -> str:
        return json.dumps(change(json.loads(text)))

    return apply


def _nest(depth: int) -> Text:
    return lambda t, r: "[" * depth + "]" * depth


def _set(path: tuple[Any, ...], value: Any) -> Doc:
    def change(doc: Any) -> Any:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return doc

    return change


def _drop(key: str) -> Doc:
    return lambda doc: {k: v for k, v in doc.items() if k != key}


JSON_GENERIC: dict[str, Text] = {
    "nested-100k": _nest(100_000),
    "nested-in-field": lambda t, r: t[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
    "top-level-list": lambda t, r: "[" + t + "]",
    "top-level-string": lambda t, r: '"x"',
    "nan": lambda t, r: t[:-1] + ', "y": NaN}',
    "int-4300-digits": lambda t, r: t[:-1] + ', "y": ' + "9" * 4300 + "}",
    "float-1e400": lambda t, r: t[:-1] + ', "y": 1e400}',
    "duplicate-keys": lambda t, r: t[:-1] + ', "x": 1, "x": 2}',
    "xml-instead": lambda t, r: '<?xml version="1.0"?><ServiceRequest/>',
}
FHIR: dict[str, Text] = {
    "status-int": _json(_set(("entry", 0, "resource", "status"), 5)),
    "resource-type-unknown": _json(_set(("entry", 0, "resource", "resourceType"), "Spaceship")),
    "no-resource-type": _json(_drop("resourceType")),
    "entries-100k": _json(lambda d: {**d, "entry": d["entry"] * 50_000}),
    "entry-not-list": _json(_set(("entry",), {"a": 1})),
    "bundle-empty": _json(_set(("entry",), [])),
}
CRITERIA: dict[str, Text] = {
    "duration=-1": _json(_set(("rules", 1, "min_duration_s"), -1)),
    "duration=1e308": _json(_set(("rules", 1, "min_duration_s"), 1e308)),
    "duration=str": _json(_set(("rules", 1, "min_duration_s"), "thirty")),
    "event-unknown": _json(_set(("rules", 0, "event"), "alien")),
    "tier-unknown": _json(_set(("rules", 0, "tier"), "whenever")),
    "rules-empty": _json(_set(("rules",), [])),
    "rules-20k": _json(lambda d: {**d, "rules": d["rules"] * 2000}),
    "no-version": _json(_drop("version")),
    "rate-inverted": _json(_set(("rules", 7, "max_rate_bpm"), -35)),
    "rules-not-list": _json(_set(("rules",), "x")),
}
FACTS: dict[str, Text] = {
    "pos-fullwidth": _json(_set(("place_of_service",), "\uff11\uff11")),
    "date-iso-week": _json(_set(("start",), "2024-W31-4")),
    "date-31-feb": _json(_set(("end",), "2024-02-31")),
    "hours-1e308": _json(_set(("recorded_hours",), 1e308)),
    "hours-negative": _json(_set(("recorded_hours",), -4)),
    "hours-str": _json(_set(("recorded_hours",), "48")),
    "service-unknown": _json(_set(("service",), "x-ray")),
    "components-dict": _json(_set(("components",), {"a": 1})),
    "no-service": _json(_drop("service")),
    "diagnoses-10k": _json(_set(("diagnoses",), ["R00.2"] * 10_000)),
    "end-before-start": _json(_set(("end",), "2024-07-01")),
}
CLAIM: dict[str, Text] = {
    "code-unknown": _json(_set(("lines", 0, "code"), "12345")),
    "code-fullwidth": _json(_set(("lines", 0, "code"), "\uff19\uff13\uff10\uff10\uff10")),
    "units-1e9": _json(_set(("lines", 0, "units"), 10**9)),
    "units-float": _json(_set(("lines", 0, "units"), 1.5)),
    "pointer-99": _json(_set(("lines", 0, "diagnosis_pointers"), [99])),
    "dos-compact": _json(_set(("lines", 0, "date_of_service"), "20240801")),
    "lines-empty": _json(_set(("lines",), [])),
    "lines-5k": _json(lambda d: {**d, "lines": d["lines"] * 2500}),
    "modifier-long": _json(_set(("lines", 0, "modifiers"), ["X" * 100_000])),
    "npi-letters": _json(_set(("ordering_provider_npi",), "12345678AB")),
    "no-lines": _json(_drop("lines")),
}
SPECIFIC: dict[str, dict[str, Text]] = {
    "ack999": X12,
    "ack277": {**X12, **X12_277},
    "remit835": {**X12, **X12_835},
    "orm": HL7,
    "fhir": {**JSON_GENERIC, **FHIR},
    "criteria": {**JSON_GENERIC, **CRITERIA},
    "facts": {**JSON_GENERIC, **FACTS},
    "claim": {**JSON_GENERIC, **CLAIM},
}
#: mutations that leave a valid input (a flip in free text can): the rest must be refused or warned about
MAY_BE_VALID = (
    "flip-1",
    "flip-8",
    "garbage-appended",
    "lf-not-cr",
    "duplicate-keys",
    "rules-20k",
    "repeated-9MB",
    "segments-100k",
    "latin1",
    "diagnoses-10k",
)
_X12_KINDS = ("ack999", "ack277", "remit835")
#: mutations that leave a valid input of these kinds only, and why
VALID_FOR: dict[str, tuple[str, ...]] = {
    # the ISA declares its own separators, so a file using others throughout is valid X12; a byte that
    # is not UTF-8 in free text is a Latin-1 file, which X12's extended character set allows
    **{kind: ("terminator-swapped", "separator-swapped", "non-utf8") for kind in _X12_KINDS},
    # the criteria document is {"rules": [...]}: "version" is the default table's own (a signed version is
    # numbered by the store), so a physician's file without it is valid
    "criteria": ("no-version",),
}


def build(work: Path, seed: int) -> list[Case]:
    """Every input case under ``work / "inputs"`` (built once, reused)."""
    manifest = work / "inputs.json"
    if manifest.exists():
        return [Case(**{**c, "folder": Path(c["folder"])}) for c in json.loads(manifest.read_text())]
    cases: list[Case] = []
    for kind, bases in _bases().items():
        for name, text in bases:
            stem = f"{kind}-{Path(name).stem}"
            mutations = {"valid": lambda t, r: t, **GENERIC, **SPECIFIC[kind]}
            for number, (label, mutation) in enumerate(mutations.items()):
                unique = text  # a control id of its own: the same id on another message is refused as such
                if kind == "orm":
                    unique = text.replace("|C1|P|", f"|F{number:03d}|P|")
                    unique = unique.replace("|C2|P|", f"|G{number:03d}|P|")
                try:
                    content = mutation(unique, random.Random(f"{seed}-{stem}-{label}"))
                except (ValueError, KeyError, IndexError, TypeError):
                    continue  # the mutation does not apply to this base (no such segment, field or entry)
                if content == unique and label != "valid":
                    continue
                folder = work / "inputs" / f"{stem}--{label}"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                raw = content.encode() if isinstance(content, str) else content
                (folder / name).write_bytes(raw)
                must_flag = (label != "valid" and label not in MAY_BE_VALID + VALID_FOR.get(kind, ())
                             and not label.startswith("flip-"))
                cases.append(Case(f"{stem}--{label}", stem, label, folder, name, kind, must_flag))
    manifest.write_text(json.dumps([{**c.__dict__, "folder": str(c.folder)} for c in cases], indent=1))
    return cases


# ----------------------------------------------------------------------------------------- the study home
def home(work: Path, python: str, env: dict[str, str], studies: int) -> dict[str, str]:
    """A study database with a technician, a physician and a biller, ``studies`` empty ambulatory studies
    and one event-monitor enrolment (criteria signed); returns the environment of the runs (ECGDESK_HOME,
    the password, ``ENROLMENT``, ``STUDIES`` as a comma-separated list)."""
    env = {
        **env,
        "ECGDESK_HOME": str(work / "home"),
        "ECGDESK_PASSWORD": PIN,
        "ECGDESK_REFDATA_DIR": str(work / "refdata"),
    }
    saved = work / "home.json"
    if saved.exists():
        return {**env, **json.loads(saved.read_text())}
    setup = f"""
import json
from datetime import date
from decimal import Decimal
from ecgdesk.coding.facts import Service
from ecgdesk.store import open_store
from ecgdesk.workflow.studies import StudyRequest, create_study
from ecgdesk.workflow.users import add_user
store = open_store()
add_user(store, "boss", "admin", {PIN!r}, actor="setup")
for name, role, npi in (("tech", "technician", None), ("dr", "physician", {NPI!r}), ("bill", "biller", None)):
    add_user(store, name, role, {PIN!r}, "Smith, John" if npi else None, npi=npi, actor="boss",
             admin_password={PIN!r})
ids = [create_study(store, StudyRequest(f"F{{i}}", "Fuzz, Case", date(1950, 1, 1), "F",
                                        Service.AMBULATORY_ECG,
                                        {NPI!r}, ("R00.2",), duration_days=1), actor="tech")
       for i in range({studies})]
store.close()
print(json.dumps(ids))
"""
    done = subprocess.run([python, "-c", setup], env=env, capture_output=True, text=True, check=True)
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(ROOT / "tests" / "cli"))
    from monitor_cli_builders import enroll_argv

    enroll = [*enroll_argv("FUZZ-1", str(date.today()), NPI), "--json"]
    enrolment = str(json.loads(_cli(python, enroll, env, "tech"))["id"])
    _cli(python, ["monitor", "criteria", enrolment, "--sign"], env, "dr")
    extra = {"ENROLMENT": enrolment, "STUDIES": ",".join(map(str, ids))}
    saved.write_text(json.dumps(extra))
    return {**env, **extra}


def _cli(python: str, argv: list[str], env: dict[str, str], user: str) -> str:
    """Run one set-up command as ``user``; its output, or stop the run naming what failed."""
    done = subprocess.run([python, "-m", "ecgdesk.cli.main", *argv], env={**env, "ECGDESK_USER": user},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} failed: {done.stderr}")
    return done.stdout
