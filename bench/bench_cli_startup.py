"""How fast the command line answers (issue 19, item 9): ``--version``, ``--help``, ``study list``, ``audit
verify`` and scrubbing a 2-line claim, timed as whole processes, against the targets (0.3 s, 0.3 s, 0.8 s,
0.8 s, 1 s) and, with ``--baseline-src``, against another checkout in the same run (runs interleaved, so
both see the same machine load); plus ``python -X importtime`` of each command: what it imports.

    python bench/bench_cli_startup.py --out bench/results/cli_startup.csv [--baseline-src OTHER/src]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--version": 0.3, "--help": 0.3, "study list": 0.8, "study list +token": 0.8, "audit verify": 0.8,
           "audit verify +token": 0.8, "scrub 2-line claim": 1.0}
PIN = "1234-1234"


def _claim(folder: Path) -> Path:
    path = folder / "claim.json"
    lines = [{"code": code, "date_of_service": "2024-08-01", "units": 1, "diagnosis_pointers": [1]}
             for code in ("93000", "93224")]
    path.write_text(json.dumps({"setting": "practitioner", "place_of_service": "11", "lines": lines,
                                "diagnoses": ["R00.2"], "ordering_provider_npi": "1245319599",
                                "interpretation_signed": True, "recorded_hours": 48}))
    return path


def _home(src: Path | None, folder: Path) -> dict[str, str]:
    """An environment with its own study database holding an administrator and a technician."""
    env = {**os.environ, "ECGDESK_HOME": str(folder / "home"), "ECGDESK_REFDATA_DIR": str(folder / "ref"),
           "OMP_NUM_THREADS": "1"}
    # PYTHONDONTWRITEBYTECODE (set on some build machines) makes every run compile every module from
    # source; an installed package has its bytecode, so the timings are taken with it
    for name in ("ECGDESK_DATABASE_URL", "ECGDESK_TOKEN", "ECGDESK_DEBUG", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    setup = ("from ecgdesk.store import open_store\nstore = open_store()\n"
             "try:\n    from ecgdesk.workflow.users import add_user, authenticate\n"
             "    from ecgdesk.workflow.sessions import create_token\n"
             "    from ecgdesk.workflow.permissions import Principal\n"
             f"    add_user(store, 'boss', 'admin', {PIN!r}, actor='setup')\n"
             f"    add_user(store, 'tech', 'technician', {PIN!r}, actor='boss', admin_password={PIN!r})\n"
             f"    info = authenticate(store, 'boss', {PIN!r})\n"
             "    boss = Principal(info.id, info.username, info.role, info.display_name, 'cli')\n"
             "    for name in ('boss', 'tech'):\n"
             "        print(name, create_token(store, boss, name, 'bench')[1])\n"
             "except Exception as error:\n    print('no users:', error)\n")
    done = subprocess.run([sys.executable, "-c", setup], env=env, check=True, capture_output=True, text=True)
    tokens = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line and
                  not line.startswith("no users"))
    return {**env, "ECGDESK_PASSWORD": PIN, **{f"TOKEN_{k}": v for k, v in tokens.items()}}


def _commands(claim: Path) -> dict[str, tuple[list[str], str]]:
    """label -> (arguments, user); ``+token`` runs authenticate with an API token instead of a password
    (argon2, by design the costliest step of a command that needs a user)."""
    return {"--version": (["--version"], "tech"), "--help": (["--help"], "tech"),
            "study list": (["study", "list"], "tech"), "study list +token": (["study", "list"], "tech+token"),
            "audit verify": (["audit", "verify"], "boss"),
            "audit verify +token": (["audit", "verify"], "boss+token"),
            "scrub 2-line claim": (["scrub", str(claim)], "tech")}


def _as(env: dict[str, str], user: str) -> dict[str, str]:
    name, _, how = user.partition("+")
    out = {**env, "ECGDESK_USER": name}
    if how == "token" and f"TOKEN_{name}" in env:
        out.pop("ECGDESK_PASSWORD", None)
        out["ECGDESK_TOKEN"] = env[f"TOKEN_{name}"]
    return out


def _time(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run: on a loaded machine the CPU time is the figure
    that says what the command costs, the wall time what a user waits."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "ecgdesk.cli.main", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def _imports(args: list[str], env: dict[str, str]) -> tuple[float, list[str]]:
    """Total import time (s) of a command and its five costliest top-level imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ecgdesk.cli.main", *args], env=env,
                          capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("   "):
            rows.append((int(parts[1]), parts[2].strip()))
    total = sum(us for us, _ in rows) / 1e6
    top = [f"{name} {us / 1e6:.2f}s" for us, name in sorted(rows, reverse=True)[:5]]
    return total, top


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="CSV of the timings")
    parser.add_argument("--baseline-src", type=Path, help="src folder of the checkout to compare with")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cli-startup-"))
    claim = _claim(work)
    versions = {"this": _home(None, work / "this")}
    if args.baseline_src:
        versions["baseline"] = _home(args.baseline_src.resolve(), work / "baseline")
    commands = _commands(claim)
    for argv, user in commands.values():  # warm-up: writes the bytecode caches, fills the OS cache
        for env in versions.values():
            _time(argv, _as(env, user))
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for label, (argv, user) in commands.items():
            for version, env in versions.items():
                seconds, used = _time(argv, _as(env, user))
                wall.setdefault((version, label), []).append(seconds)
                cpu.setdefault((version, label), []).append(used)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of {args.repeat} runs "
          "after one warm-up run each")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["command", "version", "wall_median_s", "cpu_median_s", "target_s", "imports_s",
                         "top_imports"])
        for label, (argv, user) in commands.items():
            line = [f"{label:19}"]
            for version, env in versions.items():
                w, c = statistics.median(wall[(version, label)]), statistics.median(cpu[(version, label)])
                total, top = _imports(argv, _as(env, user))
                writer.writerow([label, version, f"{w:.3f}", f"{c:.3f}", TARGETS[label], f"{total:.3f}",
                                 "; ".join(top)])
                line.append(f"{version}: wall {w:.2f} s, cpu {c:.2f} s, imports {total:.2f} s")
            if "baseline" in versions:
                ratio = statistics.median(cpu[("baseline", label)]) / statistics.median(cpu[("this", label)])
                line.append(f"cpu {ratio:.1f}x less")
            line.append(f"(target {TARGETS[label]} s)")
            print("  ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
