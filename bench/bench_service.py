"""The HTTP service under load, on loopback, against the targets of issue 12.

1. Worklist: ``GET /api/v1/studies`` (pages of 50, all statuses and one status) with 10,000 studies in the
   database: p95 <= 100 ms.
2. 50 concurrent sessions (50 logins) for 2 minutes mixing worklist, study detail and (when the route
   exists) signal calls: 0 errors; requests/s and p95, on SQLite and on PostgreSQL.

The server is the real thing (``uvicorn ecgdesk.service.app:app_from_env --workers N``) in a child process on
127.0.0.1; the load is a bounded httpx2 async loop. The 10,000 studies are inserted in bulk (patients,
orders, studies rows) to set the scene quickly; each request then goes through the whole service (session,
permission check, audit row of the read). Results: ``bench/results/service_<backend>.csv``.

    .venv/bin/python bench/bench_service.py --backend sqlite
    .venv/bin/python bench/bench_service.py --backend postgresql --pg-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, insert, text

RESULTS = Path(__file__).parent / "results"
PIN = "demo-2468"
STATUSES = ("ordered", "recorded", "analyzed", "reported", "signed", "coded", "billed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, home: Path, studies: int, users: int) -> None:
    """Migrate, add the users, bulk-insert ``studies`` studies, and one real study with a recording."""
    from ecgdesk.records import write_recording
    from ecgdesk.store import open_store
    from ecgdesk.store.models import Order, Patient, Study
    from ecgdesk.workflow.demo import synthetic_recording
    from ecgdesk.workflow.studies import import_recording
    from ecgdesk.workflow.users import add_user

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as con:
            con.execute(text("DROP SCHEMA public CASCADE"))
            con.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    store = open_store(url=url, home=home)
    add_user(store, "admin.b", "admin", PIN, actor="bench")
    for i in range(users):
        add_user(store, f"tech{i}", "technician", PIN, actor="admin.b", admin_password=PIN)
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.execute(
            insert(Patient),
            [
                {
                    "external_id": f"B{i:06d}",
                    "name": f"Doe, Pat {i}",
                    "birth_date": date(1950, 1, 1 + i % 28),
                    "sex": "MF"[i % 2],
                    "created_at": now,
                }
                for i in range(studies)
            ],
        )
        session.execute(
            insert(Order),
            [
                {
                    "patient_id": i + 1,
                    "ordering_npi": "1245319599",
                    "ordering_name": None,
                    "indications_json": '["R00.2"]',
                    "service": "ambulatory_ecg",
                    "duration_days": 2.0,
                    "setting": "practitioner",
                    "place_of_service": "11",
                    "created_at": now,
                }
                for i in range(studies)
            ],
        )
        session.execute(
            insert(Study),
            [
                {
                    "patient_id": i + 1,
                    "order_id": i + 1,
                    "status": STATUSES[i % len(STATUSES)],
                    "technician_comments": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(studies)
            ],
        )
        session.execute(text("UPDATE studies SET status = 'ordered' WHERE id = 1"))
    folder = Path(tempfile.mkdtemp())
    record = write_recording(synthetic_recording(10.0, seed=5), folder, "wfdb", "bench")
    import_recording(store, 1, record, "tech0")
    store.close()


def start_server(url: str, home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ECGDESK_DATABASE_URL": url, "ECGDESK_HOME": str(home)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "ecgdesk.service.app:app_from_env",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not start")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


async def login(client: httpx.AsyncClient, username: str) -> None:
    answer = await client.post("/api/v1/session", json={"username": username, "password": PIN})
    answer.raise_for_status()
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]


async def worklist_latency(base: str, n: int, studies: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await login(client, "tech0")
        times: list[float] = []
        for i in range(n):
            params: dict[str, object] = {"limit": 50, "offset": random.randrange(0, studies - 50)}
            if i % 2:
                params = {"limit": 50, "status": random.choice(STATUSES)}
            start = time.perf_counter()
            answer = await client.get("/api/v1/studies", params=params)
            times.append(time.perf_counter() - start)
            assert answer.status_code == 200 and len(answer.json()["items"]) >= 50 - 50 * (studies < 400)
    return {
        "worklist_n": n,
        "worklist_p50_ms": statistics.median(times) * 1e3,
        "worklist_p95_ms": p95(times) * 1e3,
    }


async def load(base: str, sessions: int, duration: float, studies: int, signal: bool) -> dict[str, float]:
    """``sessions`` logged-in clients (logins first, four at a time: argon2 is costly on purpose), then all
    of them at once for ``duration`` seconds."""
    times: list[float] = []
    errors: list[str] = []
    clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in range(sessions)]
    gate = asyncio.Semaphore(4)

    async def sign_in(index: int) -> None:
        async with gate:
            await login(clients[index], f"tech{index}")

    await asyncio.gather(*(sign_in(i) for i in range(sessions)))
    stop = time.monotonic() + duration

    async def one(index: int) -> None:
        client, rng = clients[index], random.Random(index)
        while time.monotonic() < stop:
            pick = rng.random()
            if pick < 0.4:
                offset = rng.randrange(0, studies - 50)
                request = client.get("/api/v1/studies", params={"limit": 50, "offset": offset})
            elif pick < 0.8 or not signal:
                request = client.get(f"/api/v1/studies/{rng.randrange(1, studies + 1)}")
            else:
                window = {"lead": "ECG", "start_s": rng.uniform(0, 500), "end_s": 600, "width_px": 1200}
                request = client.get("/api/v1/studies/1/signal", params=window)
            start = time.perf_counter()
            try:
                answer = await request
            except httpx.TransportError as error:
                errors.append(f"{type(error).__name__}")
                continue
            times.append(time.perf_counter() - start)
            if answer.status_code != 200:
                errors.append(f"{answer.status_code} {answer.request.url}")

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(sessions)))
    elapsed = time.monotonic() - started
    for client in clients:
        await client.aclose()
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[:3]}")
    return {
        "sessions": sessions,
        "duration_s": round(elapsed, 1),
        "requests": len(times),
        "requests_per_s": len(times) / elapsed,
        "load_p50_ms": statistics.median(times) * 1e3,
        "load_p95_ms": p95(times) * 1e3,
        "errors": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("ECGDESK_TEST_POSTGRES_URL"),
        help="a scratch PostgreSQL database (its tables are dropped)",
    )
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of the concurrent load")
    parser.add_argument("--worklist-requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ecgdesk-bench-"))
    if args.backend == "postgresql":
        if not args.pg_url:
            raise SystemExit("--pg-url (or ECGDESK_TEST_POSTGRES_URL) is needed for PostgreSQL")
        url = args.pg_url
    else:
        url = f"sqlite:///{home / 'ecgdesk.sqlite'}"
    started = time.perf_counter()
    prepare(url, home, args.studies, args.sessions)
    print(
        f"prepared {args.studies} studies and {args.sessions} users in {time.perf_counter() - started:.1f} s"
    )
    port = free_port()
    server = start_server(url, home, port, args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as probe:
            signal = (
                probe.get("/openapi.json").json()["paths"].get("/api/v1/studies/{study_id}/signal")
                is not None
            )
        row: dict[str, object] = {
            "backend": args.backend,
            "studies": args.studies,
            "workers": args.workers,
            "cpus": os.cpu_count(),
            "signal_route": signal,
        }
        row.update(asyncio.run(worklist_latency(base, args.worklist_requests, args.studies)))
        print(
            f"worklist: p95 {row['worklist_p95_ms']:.1f} ms over {args.worklist_requests} pages", flush=True
        )
        row.update(asyncio.run(load(base, args.sessions, args.duration, args.studies, signal)))
    finally:
        server.terminate()
        server.wait(30)
    shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
    print(json.dumps(shown, indent=1))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"service_{args.backend}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(shown))
        writer.writeheader()
        writer.writerow(shown)


if __name__ == "__main__":
    main()
