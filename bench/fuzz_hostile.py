"""Hostile-input fuzz run of the command line (issue 19): every case of ``fuzz_corpus.py`` through ``info``
and the analysis that fits it (``analyze``, ``ecg12`` or ``strips``; ``--convert`` adds ``convert``), each
in a process of its own, counting per category: tracebacks (and internal errors, exit 3), hangs (killed
at --timeout of wall time), slow runs (over 10 s of CPU time), memory (peak RSS over 500 MB), garbage
accepted (a mutation that must be flagged, read with exit 0 and no warning), inputs modified, clean
refusals (exit 2) and runs that read.

    python bench/fuzz_hostile.py --out bench/results/fuzz_hostile             # this checkout
    python bench/fuzz_hostile.py --src /path/to/other/checkout/src --out ...   # the same corpus, other code

The corpus is built once per --work folder (from ../shared/data, copied into that scratch folder) and
reused, so two runs on two versions of the code see exactly the same inputs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import multiprocessing
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_inputs
from fuzz_corpus import Case, build

SLOW_S = 10.0
MEMORY_MB = 500.0
CATEGORIES = ("traceback", "hang", "slow", "memory", "garbage", "warned", "modified", "refused", "read")


@dataclass
class Run:
    case: str
    base: str
    mutation: str
    command: str
    returncode: int
    seconds: float
    cpu_s: float
    peak_mb: float
    categories: list[str]
    message: str


def _digests(case: Case) -> dict[str, str]:
    out = {}
    for path in sorted(case.folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


CPU_LIMIT_S = [10]


def _limit_memory() -> None:  # keeps a runaway allocation from taking the shared machine down
    os.setpgrp()
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    # the 10 s limit in CPU seconds (SIGXCPU): on a machine shared with other work a wall-clock limit
    # measures the others; the wall limit (--timeout) still catches a process that waits for ever
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S[0], CPU_LIMIT_S[0] + 1))


#: with --fork: each run is a child forked from a worker that has imported ecgdesk and its engines once
#: (the interpreter start and imports, about 1 s of CPU a run, are paid once per worker); its peak RSS
#: then includes the worker's own pages, so the memory figure is an upper bound
FORKED = [False]
PRELOAD = ("numpy", "scipy.signal", "wfdb", "pyedflib", "pydicom", "sqlalchemy", "pydantic", "lxml.etree",
           "ecgdesk.cli.main", "ecgdesk.records", "ecgdesk.store", "ecgdesk.workflow.views",
           "ecgdesk.analysis.pipeline", "ecgdesk.coding.scrub", "ecgdesk.claims")


def _preload() -> None:
    import importlib

    FORKED[0] = True
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _fork(argv: list[str], env: dict[str, str], cwd: Path, out_fd: int, err_fd: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _limit_memory()
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.environ.clear()
        os.environ.update(env)
        from ecgdesk.cli.main import main as cli

        code = cli(argv[argv.index("ecgdesk.cli.main") + 1:])
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    except BaseException:  # a crash that got past the CLI's own handler: a traceback
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _execute(argv: list[str], env: dict[str, str], cwd: Path,
             timeout: float) -> tuple[int, float, float, float, str, str, bool]:
    """Run; kill the process group at ``timeout``.

    Returns (returncode, wall s, CPU s, peak MB, stdout, stderr, hung). On a machine shared with other
    work the wall time mostly measures the others; the CPU time is what the command itself spent.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        if FORKED[0]:
            child = _fork(argv, env, cwd, out.fileno(), err.fileno())
        else:
            child = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     preexec_fn=_limit_memory).pid
        timed_out = False
        while True:
            pid, status, usage = os.wait4(child, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                timed_out = True
                os.killpg(child, signal.SIGKILL)
                pid, status, usage = os.wait4(child, 0)
                break
            time.sleep(0.02)
        seconds = time.monotonic() - started
        returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (returncode, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
                out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"), timed_out)


Command = tuple[str, list[str], Path | None, str | None]  # label, arguments, strips CSV, acting user


def _input_commands(case: Case, env: dict[str, str]) -> list[Command]:
    words, user = fuzz_inputs.COMMANDS[case.kind]
    argv = [w.replace("{enrolment}", env.get("ENROLMENT", "1")) for w in words] + [str(case.path)]
    return [(" ".join(words[:2]) if words[0] in ("claims", "remit", "interop", "monitor") else words[0],
             argv, None, user)]


def _commands(case: Case, scratch: Path, convert: bool, env: dict[str, str]) -> list[Command]:
    """(label, arguments, results CSV of a strips run, user) for a case: ``info``, the analysis that fits
    the recording (``analyze``, ``ecg12`` or ``strips``), with ``--convert`` ``convert``, with ``--study``
    ``study import`` and ``study analyze`` of a study of its own (``monitor ingest`` for a strip)."""
    if case.kind in fuzz_inputs.COMMANDS:
        return _input_commands(case, env)
    path = str(case.path)
    out = case.folder if case.extra.get("out") == "same" else scratch
    results = scratch / "results.csv"
    analysis: Command = {
        "holter": ("analyze", ["analyze", path, "--out", str(out)], None, None),
        "twelve": ("ecg12", ["ecg12", path, "--out", str(out)], None, None),
        "strip": ("strips", ["strips", path, "--out", str(results)], results, None),
    }[case.kind]
    if case.extra.get("out") == "same":
        return [analysis]
    commands: list[Command] = [("info", ["info", path], None, None), analysis]
    if convert:
        commands.append(("convert", ["convert", path, str(scratch / "c"), "--to", "wfdb"], None, None))
    if "STUDIES" in env and case.kind == "strip":
        commands.append(("monitor ingest", ["monitor", "ingest", "--device", "FUZZ-1", path], None, "tech"))
    elif "STUDIES" in env and case.kind == "holter":  # a resting ECG is not an ambulatory study
        study = case.extra.get("study") or _next_study(env)
        commands.append(("study import", ["study", "import", study, path], None, "tech"))
        commands.append(("study analyze", ["study", "analyze", study], None, "tech"))
    return commands


_STUDIES: list[str] = []


def _next_study(env: dict[str, str]) -> str:
    if not _STUDIES:
        _STUDIES.extend(reversed(env["STUDIES"].split(",")))
    return _STUDIES.pop()


def _classify(case: Case, code: int, out: str, err: str, timed_out: bool, cpu_s: float, peak_mb: float,
              results: Path | None, modified: bool) -> list[str]:
    found = []
    if timed_out or code in (-signal.SIGXCPU, -signal.SIGKILL) or cpu_s > CPU_LIMIT_S[0]:
        found.append("hang")
    elif cpu_s > SLOW_S:
        found.append("slow")
    problems_found = code == 1 and case.kind in ("facts", "claim")  # scrub/code: exit 1 = the claim's errors
    if "Traceback (most recent call last)" in err or code == 3 or (code < 0 and "hang" not in found) or (
            code == 1 and not problems_found):
        found.append("traceback")
    if peak_mb > MEMORY_MB or "MemoryError" in err or "out of memory" in err:
        found.append("memory")
    if modified:
        found.append("modified")
    flagged = code == 2 or problems_found or "warning" in (out + err).lower()
    if results is not None and code == 0 and results.exists():
        rows = list(csv.DictReader(results.open()))
        # a '~' row (unreadable, or noise) or a warning in the reason is the strip flagged
        flagged = not rows or rows[0]["label"] == "~" or "warning" in rows[0]["reason"]
    if case.must_flag and code == 0 and not flagged and not timed_out:
        found.append("garbage")
    elif case.must_flag and code == 0 and flagged:
        found.append("warned")
    refused = code == 2 or problems_found or (results is not None and flagged and code == 0)
    found.append("refused" if refused else "read" if code == 0 else "other")
    return found


def run_case(case: Case, python: str, env: dict[str, str], timeout: float, convert: bool) -> list[Run]:
    runs = []
    scratch = Path(tempfile.mkdtemp(prefix="fuzz-out-"))
    imported = True
    for label, args, results, user in _commands(case, scratch, convert, env):
        if label == "study analyze" and not imported:
            continue  # nothing was stored: the analysis would only say so
        before = {} if case.special else _digests(case)
        code, seconds, cpu_s, peak_mb, out, err, timed_out = _execute(
            [python, "-m", "ecgdesk.cli.main", *args], {**env, "ECGDESK_USER": user or "tech"}, case.folder,
            timeout)
        imported = label != "study import" or code == 0
        modified = not case.special and _digests(case) != before
        categories = _classify(case, code, out, err, timed_out, cpu_s, peak_mb, results, modified)
        message = (err.strip().splitlines() or [""])[-1][:200]
        runs.append(Run(case.name, case.base, case.mutation, label, code, round(seconds, 2), round(cpu_s, 2),
                        round(peak_mb, 1), categories, message))
        if results is not None:
            results.unlink(missing_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return runs


def _strips_batch(cases: list[Case], python: str, env: dict[str, str], work: Path) -> dict[str, object]:
    """One ``strips`` batch over every strip case (valid, mutated, special): one row per item, and no
    item changed."""
    items = [c.path for c in cases if c.kind == "strip" and not c.special and c.path.is_file()]
    out = work / "batch-results.csv"
    out.unlink(missing_ok=True)
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in items]
    code, seconds, _cpu, peak_mb, _o, err, hung = _execute(
        [python, "-m", "ecgdesk.cli.main", "strips", *map(str, items), "--out", str(out), "--jobs", "2"],
        env, work, 60.0 + 2.0 * len(items))
    rows = list(csv.DictReader(out.open())) if out.exists() else []
    after = [hashlib.sha256(p.read_bytes()).hexdigest() for p in items]
    return {"items": len(items), "rows": len(rows), "returncode": code, "seconds": round(seconds, 1),
            "peak_mb": round(peak_mb, 1), "hung": hung, "inputs_modified": sum(a != b for a, b in zip(
                before, after, strict=True)), "unreadable_rows": sum(r["label"] == "~" for r in rows),
            "last_error": (err.strip().splitlines() or [""])[-1][:200]}


def _study_race(cases: list[Case], python: str, env: dict[str, str]) -> dict[str, object]:
    """A valid Holter recording in a study of its own: two ``study analyze`` at once, then one killed with
    SIGKILL after 2 s; then ``study analyze`` and ``study report`` must succeed and no temporary folder
    may be left in the study home."""
    valid = next(c for c in cases if c.kind == "holter" and c.mutation == "valid")
    study = _next_study(env)
    cli = [python, "-m", "ecgdesk.cli.main"]
    tech = {**env, "ECGDESK_USER": "tech"}
    imported = subprocess.run([*cli, "study", "import", study, str(valid.path)], env=tech,
                              capture_output=True)
    both = [subprocess.Popen([*cli, "study", "analyze", study], env=tech, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE) for _ in range(2)]
    concurrent = [p.wait(timeout=600) for p in both]
    killed = subprocess.Popen([*cli, "study", "analyze", study], env=tech, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    killed.kill()
    killed.wait()
    again = subprocess.run([*cli, "study", "analyze", study], env=tech, capture_output=True, text=True)
    report = subprocess.run([*cli, "study", "report", study], env=tech, capture_output=True, text=True)
    home = Path(env["ECGDESK_HOME"])
    leftovers = [str(p) for p in home.rglob("*")
                 if p.is_dir() and (".tmp" in p.name or p.name.startswith("tmp"))]
    return {"study": study, "import_rc": imported.returncode, "concurrent_rcs": concurrent,
            "after_kill_analyze_rc": again.returncode, "report_rc": report.returncode,
            "report_error": (report.stderr.strip().splitlines() or [""])[-1][:200],
            "temporary_folders_left": leftovers}


def _interleaved(cases: list[Case]) -> list[Case]:
    """One case of each base in turn, so a run cut short has covered every kind of input alike."""
    by_base: dict[str, list[Case]] = {}
    for case in cases:
        by_base.setdefault(case.base, []).append(case)
    queues = list(by_base.values())
    out: list[Case] = []
    while any(queues):
        out += [queue.pop(0) for queue in queues if queue]
    return out


def _run_all(cases: list[Case], env: dict[str, str], args: argparse.Namespace) -> list[Run]:
    """Every case, ``--jobs`` at a time; each run's row is written to runs-partial.csv as it ends."""
    streamed = open(args.out / "runs-partial.csv", "w", newline="")  # noqa: SIM115 -- rows as they come
    stream = csv.writer(streamed)
    pool: ThreadPoolExecutor | ProcessPoolExecutor = ThreadPoolExecutor(max_workers=args.jobs)
    if args.fork:
        pool = ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_preload)
    with pool:
        def one(case: Case) -> list[Run]:
            done = list(futures[case.name].result())
            for r in done:
                stream.writerow([r.case, r.command, r.returncode, r.seconds, r.cpu_s, r.peak_mb,
                                 "+".join(r.categories), r.message])
            streamed.flush()
            print(f"{case.name}: " + ", ".join(f"{r.command} {'+'.join(r.categories)}" for r in done),
                  flush=True)
            return done

        futures = {case.name: pool.submit(run_case, case, sys.executable, env, args.timeout, args.convert)
                   for case in cases}
        runs = [r for case in cases for r in one(case)]
    streamed.close()
    return runs


def _partial(path: Path) -> list[Run]:
    """The runs of runs-partial.csv (a run stopped early)."""
    runs = []
    with open(path, newline="", errors="replace") as handle:
        for case, command, code, seconds, cpu_s, peak_mb, categories, message in csv.reader(handle):
            base, _, mutation = case.partition("--")
            runs.append(Run(case, base, mutation, command, int(code), float(seconds), float(cpu_s),
                            float(peak_mb), categories.split("+"), message))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for runs.csv and summary.json")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ecgdesk-fuzz",
                        help="scratch folder of the corpus (built once, reused)")
    parser.add_argument("--src", type=Path, help="run the ecgdesk package of this src folder (PYTHONPATH)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--random", type=int, default=2, help="random flips/truncations per base and kind")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="wall seconds before a run is killed and counts as a hang")
    parser.add_argument("--cpu-limit", type=int, default=10,
                        help="CPU seconds before a run is killed (SIGXCPU) and counts as a hang")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--fork", action="store_true",
                        help="fork each run from a worker that imported ecgdesk once (faster; RSS: upper "
                             "bound)")
    parser.add_argument("--only", help="comma-separated bases to run (default all)")
    parser.add_argument("--convert", action="store_true", help="also run convert on every case")
    parser.add_argument("--held-out", action="store_true",
                        help="bases from records, and header mutations, not used while writing the guards")
    parser.add_argument("--inputs", action="store_true",
                        help="also the X12, HL7/FHIR order, criteria and coding JSON cases (fuzz_inputs.py)")
    parser.add_argument("--study", action="store_true",
                        help="also study import + analyze of each recording (monitor ingest of a strip) in a "
                             "study database of the run (the inputs' commands need it too)")
    parser.add_argument("--cases", help="comma-separated case names to run (default all): a rerun of the "
                                        "failures after a fix")
    parser.add_argument("--summarize", action="store_true",
                        help="no new runs: summarise --out/runs-partial.csv (of a run stopped early) and run "
                             "the batch and study checks")
    args = parser.parse_args()
    cases = build(args.work, args.seed, args.random, args.held_out)
    if args.only:
        cases = [c for c in cases if c.base in args.only.split(",")]
    if args.inputs:
        cases += fuzz_inputs.build(args.work, args.seed)
    cases = _interleaved(cases)
    if args.cases:
        cases = [c for c in cases if c.name in args.cases.split(",")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    for name in ("ECGDESK_DEBUG", "ECGDESK_TOKEN", "ECGDESK_DATABASE_URL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    if args.src:
        env["PYTHONPATH"] = str(args.src.resolve())
    if args.study or args.inputs:
        env = fuzz_inputs.home(args.work, sys.executable, env, len(cases))
    CPU_LIMIT_S[0] = args.cpu_limit
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if "STUDIES" in env:  # each case its own study, decided here (workers may be processes)
        for case in cases:
            if case.kind == "holter":
                case.extra["study"] = _next_study(env)
    runs = _partial(args.out / "runs-partial.csv") if args.summarize else _run_all(cases, env, args)
    counts = Counter(cat for r in runs for cat in r.categories)
    table: dict[str, Counter[str]] = {}
    for r in runs:
        table.setdefault(r.command, Counter())[r.base] += 1
    checks = {}
    if args.held_out or args.study:
        checks["strips_batch"] = _strips_batch(cases, sys.executable, env, args.work)
    if "STUDIES" in env and any(c.kind == "holter" and c.mutation == "valid" for c in cases):
        checks["study_concurrent_and_killed"] = _study_race(cases, sys.executable, env)
    with open(args.out / "runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "base", "mutation", "command", "returncode", "seconds", "cpu_s", "peak_mb",
                         "categories", "message"])
        for r in runs:
            writer.writerow([r.case, r.base, r.mutation, r.command, r.returncode, r.seconds, r.cpu_s,
                             r.peak_mb, "+".join(r.categories), r.message])
    summary = {"runs": len(runs), "cases": len(cases), "seconds": round(time.monotonic() - started),
               "src": str(args.src or "this checkout"), "stopped_early": args.summarize,
               "counts": {c: counts.get(c, 0) for c in CATEGORIES},
               "max_seconds": max(r.seconds for r in runs), "max_cpu_s": max(r.cpu_s for r in runs),
               "max_peak_mb": max(r.peak_mb for r in runs), "load_average": os.getloadavg()[0],
               "runs_per_command_and_base": {c: dict(sorted(b.items())) for c, b in sorted(table.items())},
               "flagged_read_with_warning": sum(
                   1 for r in runs if r.returncode == 0 and "warned" in r.categories),
               "checks": checks,
               "failures": [r.__dict__ for r in runs
                            if {"traceback", "hang", "memory", "garbage", "modified"} & set(r.categories)]}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{len(runs)} runs of {len(cases)} cases in {summary['seconds']} s ({summary['src']})")
    for category in CATEGORIES:
        print(f"  {category:10} {counts.get(category, 0)}")
    print(f"  checks: {json.dumps(checks)}")
    print(f"  slowest run {summary['max_seconds']} s wall, {summary['max_cpu_s']} s CPU; peak memory "
          f"{summary['max_peak_mb']} MB; load average {summary['load_average']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
