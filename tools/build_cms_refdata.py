"""Build the CMS reference data shipped with ecgdesk from the public-domain extracts in ../shared/data/cms.

    python tools/build_cms_refdata.py [--source ../shared/data/cms] [--out src/ecgdesk/coding/data/cms]

Reads the NCCI PTP edits (practitioner and outpatient hospital, every pair with an ECG-family code,
effective 2024-07-01), the MUE limits and the July 2024 PFS RVUs with the same importers as
``ecgdesk refdata import``, and writes one compressed table per kind (``ptp.npz``, ``mue.npz``,
``rvu.npz``) plus ``manifest.json``: the release of each table (id, effective date, settings, rows,
SHA-256 of the table) and the SHA-256 of every source file, so the package data can be traced to its
source and rebuilt byte for byte. CMS data is US government work (public domain); the extracts were
decoded from the pins of github.com/andrewallenbruce/northstar (see shared/reference/coding.md 3.1).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from ecgdesk.coding.importers import ImportOptions, import_files
from ecgdesk.coding.tables import TableKind, table_to_arrays

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    TableKind.PTP: ("ncci_ptp_ecg_2024q3.csv", "cms-ncci-ptp-2024q3-ecg", date(2024, 7, 1)),
    TableKind.MUE: ("mue_ecg_2024q3.csv", "cms-mue-2024q3-ecg", date(2024, 7, 1)),
    TableKind.RVU: ("pfs_rvu_ecg_2024jul.csv", "cms-pfs-rvu-2024jul-ecg", date(2024, 7, 1)),
}
ORIGIN = (
    "CMS Medicare NCCI PTP edits (practitioner ccipra and outpatient hospital ccioph tables) and MUE tables "
    "effective 2024-07-01, PFS RVU file July 2024 (CF 33.2875); every row involving an ECG-family code, "
    "decoded from the pins of github.com/andrewallenbruce/northstar (shared/data/cms, coding.md 3.1). "
    "US government data, public domain."
)


def _compressed(arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez_compressed`` with fixed member dates, so the same input gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(2024, 7, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def build(source: Path, out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {
        "origin": ORIGIN,
        "command": "python tools/build_cms_refdata.py",
        "releases": {},
        "sources": {},
    }
    for kind, (name, release_id, effective) in SOURCES.items():
        path = source / name
        table = import_files(kind, [path], ImportOptions(release_id=release_id, effective=effective))
        payload = _compressed(dict(table_to_arrays(table)))
        (out / f"{kind.value}.npz").write_bytes(payload)
        release = replace(
            table.release,
            source=f"{ORIGIN} File {name}.",
            checksum=hashlib.sha256(payload).hexdigest(),
            rows=len(table),
            builtin=True,
            files=(f"ecgdesk/coding/data/cms/{kind.value}.npz",),
        )
        manifest["releases"][kind.value] = release.to_dict()  # type: ignore[index]
        manifest["sources"][name] = hashlib.sha256(path.read_bytes()).hexdigest()  # type: ignore[index]
        size = path.stat().st_size / 1024
        print(f"{kind.value}: {len(table)} rows, {len(payload) / 1024:.0f} KiB (source {size:.0f} KiB)")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / "cms")
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "ecgdesk" / "coding" / "data" / "cms")
    args = parser.parse_args()
    build(args.source, args.out)


if __name__ == "__main__":
    main()
