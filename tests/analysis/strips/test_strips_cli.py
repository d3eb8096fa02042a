"""``ecgdesk strips``: CSV header, one row per strip, bad files in the middle of a batch."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from strips_synth import sinus_rr, synth_strip

from conftest import shared_path
from ecgdesk.analysis.strips.batch import CSV_HEADER, collect_strip_paths
from ecgdesk.analysis.strips.model import default_ensemble
from ecgdesk.cli.main import main
from ecgdesk.records import Recording, write_recording

STRIPS = ("A00003", "A00004", "A00008")  # N, A, O in REFERENCE.csv


def _read(path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_batch_with_bad_files_in_the_middle(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_path("cinc2017")
    junk = tmp_path / "junk.hea"
    junk.write_bytes(b"\x00\x01 this is not a header\n")
    before = junk.read_bytes()
    short = write_recording(Recording.from_array(synth_strip(sinus_rr(3))[0][:900], 300.0, ["II"]),
                            tmp_path, "wfdb", record_name="short")
    flat = write_recording(Recording.from_array(np.zeros(3000), 300.0, ["II"]), tmp_path, "wfdb",
                           record_name="flat")
    paths = [str(folder / f"{STRIPS[0]}.hea"), str(junk), str(short), str(flat)] + \
        [str(folder / f"{s}.hea") for s in STRIPS[1:]]
    out = tmp_path / "r.csv"
    assert main(["strips", *paths, "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        assert next(csv.reader(handle)) == list(CSV_HEADER)
    rows = _read(out)
    assert [r["record"] for r in rows] == ["A00003", "junk", "short", "flat", "A00004", "A00008"]
    bad = rows[1]
    assert bad["label"] == "~" and bad["confidence"] == ""
    assert "unreadable" in bad["reason"] and str(junk) in bad["reason"]
    assert rows[2]["label"] == "~" and "shorter than 5 s" in rows[2]["reason"]
    assert rows[3]["label"] == "~" and "flat line" in rows[3]["reason"]
    for row in (rows[0], rows[4], rows[5]):
        assert row["label"] in {"N", "A", "O", "~"} and 0.0 <= float(row["confidence"]) <= 1.0
    err = capsys.readouterr().err
    assert "6 strips:" in err and "2 noisy (~)" in err and "1 failed" in err
    assert f"model {default_ensemble().version}" in err
    assert junk.read_bytes() == before


def test_folder_and_pool_give_the_same_rows(tmp_path) -> None:
    # A folder of 10 synthetic strips written as WFDB (a REFERENCE.csv beside them is not a strip).
    for i in range(10):
        x, _ = synth_strip(sinus_rr(15, rate_bpm=60 + 5 * i, seed=i), seed=i)
        write_recording(Recording.from_array(x, 300.0, ["II"]), tmp_path, "wfdb", record_name=f"s{i:02d}")
    (tmp_path / "REFERENCE.csv").write_text("s00,N\n")
    assert len(collect_strip_paths([tmp_path])) == 10
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert main(["strips", str(tmp_path), "--out", str(one)]) == 0
    assert main(["strips", str(tmp_path), "--out", str(two), "--jobs", "2"]) == 0
    assert _read(one) == _read(two)
    rates = [float(r["heart_rate_bpm"]) for r in _read(one)]
    assert np.allclose(rates, [60 + 5 * i for i in range(10)], atol=3)


def test_missing_path_and_bad_jobs_are_named_errors(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strips", str(tmp_path / "nope"), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "PATH" in err and "no such file" in err
    assert main(["strips", str(tmp_path), "--out", str(tmp_path / "r.csv"), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()
