"""One fingerprint per shared record of what ``ecgdesk analyze`` finds: to check that a change leaves the
results alone, or to see which records it moves.

    .venv/bin/python bench/findings_fingerprint.py --out before.txt
    (change the code)
    .venv/bin/python bench/findings_fingerprint.py --compare before.txt

Every shared MIT-BIH and SVDB record and the first ``--creighton`` Creighton records go through
``analyze`` on the lead it chooses, as users run it. Per record: a hash of the beat labels, a hash of the
episodes (type, samples, beats), a hash of the whole findings document (``findings_to_dict``: summary,
episodes with their evidence, messages, hourly table...; not its algorithm version), the AF burden and
the S and V counts. With
``--compare`` the records whose line differs are printed with both lines, and the exit status is 1 when
any does. Nothing is written under ``bench/results``: the fingerprints are a developer's check, not a
figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ecgdesk.analysis.findings import findings_to_dict
from ecgdesk.analysis.pipeline import analyze
from ecgdesk.records import open_recording

ROOT = Path(__file__).resolve().parents[1]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def fingerprint(header: Path) -> str:
    """The record's line: ``db/record labels=... episodes=... findings=... af=... S=... V=...``."""
    result = analyze(open_recording(header), lead=None)
    findings = result.findings
    labels = np.asarray(result.beats.labels)
    episodes = sorted((e.type.value, e.start_sample, e.end_sample, e.n_beats) for e in findings.episodes)
    document = findings_to_dict(findings)
    document.pop("algorithm_version", None)  # a version bump alone is no change of results
    text = json.dumps(document, sort_keys=True, default=str).encode()
    counts = findings.summary.beats_by_class
    return (f"{header.parent.name}/{header.stem} labels={_digest(labels.tobytes())} "
            f"episodes={_digest(repr(episodes).encode())} findings={_digest(text)} "
            f"af={findings.summary.af_burden_pct:.2f} S={counts.get('S', 0)} V={counts.get('V', 0)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--creighton", type=int, default=10, help="Creighton records taken (default 10)")
    parser.add_argument("--out", type=Path, help="write the fingerprints here")
    parser.add_argument("--compare", type=Path, help="compare with fingerprints written before")
    args = parser.parse_args(argv)
    headers = sorted((args.data / "mitdb").glob("*.hea")) + sorted((args.data / "svdb").glob("*.hea"))
    headers += sorted((args.data / "cudb").glob("*.hea"))[: args.creighton]
    if not headers:
        print(f"no shared records under {args.data}", file=sys.stderr)
        return 2
    lines = []
    for header in headers:
        lines.append(fingerprint(header))
        print(lines[-1], flush=True)
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")
    if args.compare is None:
        return 0
    before = {line.split()[0]: line for line in args.compare.read_text().splitlines() if line.strip()}
    changed = [(before.get(line.split()[0]), line) for line in lines if before.get(line.split()[0]) != line]
    for old, new in changed:
        print(f"changed:\n  before {old}\n  now    {new}")
    print(f"{len(changed)} of {len(lines)} records changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
