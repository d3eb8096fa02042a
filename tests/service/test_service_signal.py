"""``GET /api/v1/studies/{id}/signal``: the window over HTTP, its size, its audit, and every refusal."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from service_builders import ORDERING_NPI, Api
from sqlalchemy import select

from ecgdesk.coding import Service
from ecgdesk.records import open_recording
from ecgdesk.records.pyramid import quantize
from ecgdesk.store.models import AuditEntry
from ecgdesk.workflow.analysis import analyze_study
from ecgdesk.workflow.signal import decode_int16
from ecgdesk.workflow.studies import StudyRequest, create_study, import_recording

JSON_LIMIT = 16 * 1024


def _study(api: Api, record: Path | None, analysed: bool = True) -> int:
    request = StudyRequest(patient_id="P1", name="Doe, Jane", birth_date=date(1950, 1, 2), sex="F",
                           service=Service.AMBULATORY_ECG, ordering_npi=ORDERING_NPI, indications=("R00.2",))
    study_id = create_study(api.store, request, "tech.t")
    if record is not None:
        import_recording(api.store, study_id, record, "tech.t")
        if analysed:
            analyze_study(api.store, study_id, "tech.t")
    return study_id


def _get(api: Api, study_id: int, **params: Any) -> Any:
    query = {"lead": "ECG", "start_s": 10.0, "end_s": 20.0, "width_px": 1200, **params}
    return api.client.get(f"/api/v1/studies/{study_id}/signal", params=query)


def _header(files: list[Path]) -> Path:
    return next(p for p in files if p.suffix == ".hea")


def test_window_over_http_is_small_exact_and_audited(api: Api, tiny_files: list[Path]) -> None:
    study_id = _study(api, _header(tiny_files))
    api.login("dr.t")
    answer = _get(api, study_id)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert len(answer.content) <= JSON_LIMIT
    body = answer.json()
    assert body["mode"] == "minmax" and body["n_pixels"] == 1200 and body["encoding"] == "int16-le-base64"
    mins, maxs = decode_int16(body["mins"]), decode_int16(body["maxs"])
    assert mins.size == maxs.size == 1200 and np.all(mins <= maxs)
    samples = open_recording(_header(tiny_files)).read(body["first_sample"], body["stop_sample"])
    stored = quantize(samples, np.array([body["scale_mv"]]))
    assert (mins.min(), maxs.max()) == (stored.min(), stored.max())
    beats = body["beats"]
    assert beats["mode"] == "all" and beats["total"] == len(beats["labels"]) == len(beats["offsets"]) > 5
    assert set(beats["labels"]) <= set("NSVFQ")
    with api.store.transaction() as session:
        reads = session.execute(
            select(AuditEntry.actor, AuditEntry.entity_id).where(AuditEntry.action == "read:signal")
        ).all()
    assert [tuple(r) for r in reads] == [("dr.t", str(study_id))]


def test_every_zoom_stays_within_two_values_per_pixel_and_16_kb(api: Api, tiny_files: list[Path]) -> None:
    study_id = _study(api, _header(tiny_files))
    api.login("tech.t")
    for start, end in ((0.0, 4.0), (0.0, 10.0), (30.0, 90.0), (0.0, 120.0), (100.0, 160.0)):
        answer = _get(api, study_id, start_s=start, end_s=end)
        assert answer.status_code == 200 and len(answer.content) <= JSON_LIMIT, (start, end)
        body = answer.json()
        n_values = len(decode_int16(body["samples"])) + len(decode_int16(body["mins"])) * 2
        assert n_values <= 2 * 1200
        if end - start <= 4.0:
            assert body["mode"] == "raw" and len(decode_int16(body["samples"])) == 1000


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"lead": "V9"}, ["lead"]),
        ({"start_s": -1}, ["query", "start_s"]),
        ({"start_s": 500, "end_s": 510}, ["start_s"]),
        ({"end_s": 10}, ["end_s"]),
        ({"end_s": "inf"}, ["end_s"]),
        ({"start_s": "nan"}, ["query", "start_s"]),
        ({"end_s": 1e12}, ["end_s"]),
        ({"width_px": 0}, ["query", "width_px"]),
        ({"width_px": 10_001}, ["query", "width_px"]),
        ({"width_px": "wide"}, ["query", "width_px"]),
        ({"lead": ""}, ["query", "lead"]),
    ],
)
def test_bad_windows_are_422_naming_the_field(
    api: Api, tiny_files: list[Path], params: dict[str, Any], loc: list[str]
) -> None:
    study_id = _study(api, _header(tiny_files), analysed=False)
    api.login("dr.t")
    answer = _get(api, study_id, **params)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"][0]
    assert detail["loc"] == loc
    if loc == ["lead"]:
        assert "the leads are ECG" in detail["msg"]


def test_missing_parameters_unknown_studies_and_studies_without_signal(api: Api) -> None:
    bare = _study(api, None)
    api.login("dr.t")
    assert api.client.get(f"/api/v1/studies/{bare}/signal").status_code == 422
    assert _get(api, 999).status_code == 404
    conflict = _get(api, bare)
    assert conflict.status_code == 409 and "no recording yet" in conflict.json()["detail"][0]["msg"]


def test_who_may_read_the_signal(api: Api, tiny_files: list[Path]) -> None:
    study_id = _study(api, _header(tiny_files), analysed=False)
    assert _get(api, study_id).status_code == 401
    for name, status in (("tech.t", 200), ("dr.t", 200), ("biller.t", 403), ("admin.t", 403)):
        api.login(name)
        assert _get(api, study_id).status_code == status, name
