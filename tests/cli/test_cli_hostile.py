"""The command line under hostile use (issue 19): an internal error is one line with exit 3 (the traceback
only with --debug), odd file names and special files are named errors, outputs never overwrite inputs,
errors name the option typed, and building the parser imports no engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgdesk.cli import main as cli_main
from ecgdesk.cli.main import main
from ecgdesk.records import Lead, open_writer
from ecgdesk.records.writers import WRITE_FORMATS

HEAVY = ("numpy", "scipy", "sqlalchemy", "alembic", "matplotlib", "pydicom", "wfdb", "pyedflib", "lxml",
         "fastapi", "sklearn", "simple_icd_10_cm", "tqdm", "jinja2", "pydantic", "distributed")


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def test_building_the_parser_imports_no_engine() -> None:
    code = ("import sys\nfrom ecgdesk.cli.main import build_parser\nbuild_parser()\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported while building the parser: {out.stdout.strip()}"


_EVERY_HELP = """
import argparse, contextlib, io, sys
from ecgdesk.cli.main import build_parser
parser = build_parser()
def helps(p, words):
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield words + [name]
                yield from helps(sub, words + [name])
asked = 0
for words in helps(parser, []):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        parser.parse_args(words + ["--help"])
    asked += 1
loaded = {m.split(".")[0] for m in sys.modules}
print(asked, ",".join(sorted(m for m in loaded - set(sys.stdlib_module_names) if m != "ecgdesk"
                             and not m.startswith("_"))))
"""


def test_every_command_help_imports_no_third_party_package() -> None:
    # every command and sub-command's --help (each command module's parser) loads the standard library
    # and ecgdesk only: no engine, ORM, web framework or message library at module level
    out = subprocess.run([sys.executable, "-c", _EVERY_HELP], capture_output=True, text=True, check=True)
    asked, _, loaded = out.stdout.strip().partition(" ")
    assert int(asked) > 60
    assert loaded == "", f"imported by a command's --help: {loaded}"


def test_every_command_module_is_registered() -> None:
    folder = Path(cli_main.__file__).parent
    modules = {f"ecgdesk.cli.{p.stem}" for p in folder.glob("*.py")
               if "\ndef register(" in p.read_text(encoding="utf-8")}
    assert modules == set(cli_main.COMMAND_MODULES)


def test_write_formats_spelled_in_the_cli_match_the_writers() -> None:
    from ecgdesk.cli.records import WRITE_FORMATS as SPELLED

    assert tuple(SPELLED) == tuple(WRITE_FORMATS)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("ecgdesk ")


def _boom(_args: object) -> int:
    return int(1 / 0)


def test_internal_error_is_one_line_exit_3(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ("ecgdesk.cli.records",))
    import ecgdesk.cli.records as records

    monkeypatch.setattr(records, "_cmd_info", _boom)
    assert main(["info", str(tmp_path / "x.edf")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error" in err and "ZeroDivisionError" in err and "--debug" in err
    assert main(["info", str(tmp_path / "x.edf"), "--debug"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err


def test_non_utf8_file_name_is_a_named_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"strip-\xff\xfe.csv")
    path = tmp_path / name
    path.write_text("time,II\n0,1\n5,2\n")  # 0.2 Hz from the time column: refused
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "strip-" in err and "allowed 1 Hz" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_named_pipe_given_as_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "rec.edf"
    os.mkfifo(fifo)
    assert main(["info", str(fifo)]) == 2
    assert "named pipe" in capsys.readouterr().err


def _csv_strip(path: Path) -> Path:
    t = np.arange(0, 12, 1 / 250)
    rows = "".join(f"{v:.4f},{np.sin(2 * np.pi * 1.2 * v) ** 31:.4f}\n" for v in t)
    path.write_text("time,II\n" + rows)
    return path


def test_analyze_refuses_to_overwrite_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``ecgdesk analyze beats.csv --out .`` used to replace the user's recording by the beat list."""
    monkeypatch.chdir(tmp_path)
    source = _csv_strip(tmp_path / "beats.csv")
    before = _digest(source)
    assert main(["analyze", "beats.csv", "--out", "."]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "would overwrite the input" in err
    assert _digest(source) == before and not (tmp_path / "findings.json").exists()


def test_ecg12_refuses_to_overwrite_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _csv_strip(tmp_path / "waves.csv")
    before = _digest(source)
    assert main(["ecg12", str(source), "--out", str(tmp_path)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert _digest(source) == before


def test_strips_batch_isolates_a_strip_that_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from ecgdesk.analysis.strips import batch

    for i in range(3):
        with open_writer(tmp_path, f"s{i}", "wfdb", 300, [Lead("II")]) as writer:
            writer.write(np.sin(np.linspace(0, 60, 3000))[:, None])
    real = batch.classify_strip

    def sometimes(recording: object, lead: object) -> object:
        if getattr(recording, "record_name", "") == "s1":
            raise ZeroDivisionError("float division by zero")
        return real(recording, lead)  # type: ignore[arg-type]

    monkeypatch.setattr(batch, "classify_strip", sometimes)
    out = tmp_path / "out" / "results.csv"
    out.parent.mkdir()
    assert main(["strips", str(tmp_path), "--out", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 4
    assert rows[2].startswith("s1,~,") and "ZeroDivisionError" in rows[2]
    assert "1 failed" in capsys.readouterr().err


def test_errors_name_the_option_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--hours", "0", "--out", str(tmp_path)]) == 2
    assert "field '--hours'" in capsys.readouterr().err
    assert main(["simulate", "--hours", "0.05", "--out", str(tmp_path)]) == 2
    assert "field '--hours'" in capsys.readouterr().err  # the simulator's own check, renamed
    path = tmp_path / "strip.csv"
    path.write_text("I\n1\n2\n3\n")
    for command in (["analyze", str(path), "--out", str(tmp_path / "o")],
                    ["ecg12", str(path), "--out", str(tmp_path / "o")]):
        assert main(command) == 2
        assert "field '--csv-fs'" in capsys.readouterr().err
    strips = ["strips", str(tmp_path), str(path), "--out", str(tmp_path / "r.csv")]
    assert main([*strips, "--jobs", "100000"]) == 2
    assert "field '--jobs'" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_bad_diary_is_refused_before_the_analysis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recording = _csv_strip(tmp_path / "strip.csv")
    fifo = tmp_path / "diary.csv"
    os.mkfifo(fifo)
    assert main(["analyze", str(recording), "--out", str(tmp_path / "o"), "--diary", str(fifo)]) == 2
    assert "named pipe" in capsys.readouterr().err
    binary = tmp_path / "diary2.csv"
    binary.write_bytes(b"time,symptom\n10,\xff\xfe\n")
    assert main(["analyze", str(recording), "--out", str(tmp_path / "o"), "--diary", str(binary)]) == 2
    err = capsys.readouterr().err
    assert "--diary" in err and "not UTF-8" in err
    assert not (tmp_path / "o").exists()


def test_edf_with_a_non_utf8_name_is_a_named_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # found by the held-out fuzz run: pyedflib encodes the name as UTF-8 and crashed (exit 3)
    import pyedflib

    plain = tmp_path / "rec.edf"
    writer = pyedflib.EdfWriter(str(plain), 1, file_type=pyedflib.FILETYPE_EDF)
    writer.setSignalHeaders([{"label": "ECG II", "dimension": "mV", "sample_frequency": 250,
                              "physical_min": -5.0, "physical_max": 5.0, "digital_min": -32768,
                              "digital_max": 32767}])
    writer.writeSamples([np.sin(np.arange(2500) / 40.0)])
    writer.close()
    odd = tmp_path / os.fsdecode(b"rec-\xff\xfe.edf")
    plain.rename(odd)
    assert main(["info", str(odd)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "file name" in err and "UTF-8" in err


def test_a_sampling_rate_no_ecg_uses_is_read_with_a_warning(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # found by the held-out fuzz run: 1 Hz and 32767 Hz headers (allowed, 1 Hz to 100 kHz) read silently
    with open_writer(tmp_path, "slow", "wfdb", 20.0, [Lead("II")]) as writer:
        writer.write(np.sin(np.arange(1200, dtype=np.float64)[:, None] / 5.0))
    assert main(["info", str(tmp_path / "slow.hea")]) == 0
    assert "sampling rate 20 Hz is outside what ECG devices use (50 to 10000 Hz)" in capsys.readouterr().out


def test_command_words_name_the_module_that_registers_them() -> None:
    """A typed command builds only its module's parser (``COMMAND_WORDS``): the table must say, for every
    top-level word a module registers, that module, and nothing else."""
    import argparse
    import importlib

    registered = {}
    for name in cli_main.COMMAND_MODULES:
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).register(subparsers)
        registered.update(dict.fromkeys(subparsers.choices, name))
    assert registered == cli_main.COMMAND_WORDS


def _command_choices(parser: object) -> set[str]:
    action = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
    return set(action.choices)


def test_a_typed_command_builds_only_its_own_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert _command_choices(cli_main.build_parser(["study", "list"])) == {"study", "audit", "demo"}
    assert _command_choices(cli_main.build_parser(["--version"])) == set()
    for line in (["--help"], [], ["nosuch"], ["--debug"]):
        assert _command_choices(cli_main.build_parser(line)) == set(cli_main.COMMAND_WORDS)
    with pytest.raises(SystemExit) as done:
        main(["nosuch"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and "invalid choice: 'nosuch'" in err
    assert "'study'" in err and "'remit'" in err
