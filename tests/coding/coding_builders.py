"""Builders for FACTS and CLAIM data and reference data shared by the coding tests.

(Plain functions, not a conftest: ``tests/conftest.py`` is imported as ``conftest`` by other areas.)
"""

from __future__ import annotations

import atexit
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from conftest import shared_path
from ecgdesk.coding.facts import Claim, ServiceFacts, claim_from_dict, facts_from_dict
from ecgdesk.coding.importers import import_files
from ecgdesk.coding.refdata import RefData, RefStore
from ecgdesk.coding.tables import TableKind

VALID_NPI = "1234567893"  # the CMS example NPI: passes the Luhn check with the 80840 prefix
BASELINE = RefData(None)


def facts_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "service": "ambulatory_ecg",
        "setting": "practitioner",
        "place_of_service": "11",
        "start": "2024-08-01",
        "end": "2024-08-11",
        "recorded_hours": 240.0,
        "components": ["recording", "scanning", "interpretation"],
        "diagnoses": ["R00.2"],
        "repeat": None,
        "abn_on_file": False,
    }
    data.update(changes)
    return data


def facts(**changes: Any) -> ServiceFacts:
    return facts_from_dict(facts_data(**changes))


def line_data(code: str, dos: str = "2024-08-01", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": code,
        "modifiers": [],
        "units": 1,
        "date_of_service": dos,
        "diagnosis_pointers": [1],
    }
    data.update(changes)
    return data


def claim_data(*lines: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "setting": "practitioner",
        "place_of_service": "11",
        "provider_id": VALID_NPI,
        "ordering_provider_npi": VALID_NPI,
        "diagnoses": ["R00.2"],
        "abn_on_file": False,
        "lines": list(lines),
    }
    data.update(changes)
    return data


def claim(*lines: dict[str, Any], **changes: Any) -> Claim:
    return claim_from_dict(claim_data(*lines, **changes))


def cms_folder() -> Path:
    """../shared/data/cms, or skip the test with the reason."""
    return shared_path("cms")


@cache
def _cms_store_dir() -> Path:
    folder = cms_folder()
    holder = tempfile.TemporaryDirectory(prefix="ecgdesk-cms-refdata-")
    atexit.register(holder.cleanup)
    store = RefStore(holder.name)
    store.save(import_files(TableKind.PTP, [folder / "ncci_ptp_ecg_2024q3.csv"]))
    store.save(import_files(TableKind.MUE, [folder / "mue_ecg_2024q3.csv"]))
    store.save(import_files(TableKind.RVU, [folder / "pfs_rvu_ecg_2024jul.csv"]))
    return Path(holder.name)


def cms_refdata() -> RefData:
    """The real 2024-Q3 CMS extracts imported once per session into a temporary store."""
    return RefData(RefStore(_cms_store_dir()))


def cms_store_dir() -> Path:
    return _cms_store_dir()
