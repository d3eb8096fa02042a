"""Event-monitoring ingest under load, on loopback, against the targets of issue 15.

Strips of ``../shared/data/cinc2017`` (2,558 records, 9-61 s) are sent to ``POST
/api/v1/monitoring/transmissions`` with a device API token by a bounded httpx2 async loop (``--concurrency``
requests in flight). Transmissions are de-duplicated per device by content, so the strips are spread over
``--devices`` enrolled devices (4 x 2,558 distinct transmissions); each one gets a new message id.
The server is the real thing (``uvicorn ecgdesk.service.app:app_from_env``) in a child process; it queues each
strip at once and triages it (classifier, beats, and the ambulatory engine where it could raise the
priority) in a background thread.

Reported: arrival rate, classified-and-queued rate (items / time from the first arrival to the last
classification), p50/p95/max from arrival to classified-and-queued (the queue item's ``received_at`` to
``classified_at``, both stamped by the server), lost (accepted but no queue item), double-queued (two items
for one transmission, or more items than accepted), the load average. Targets: >= 50 strips/s sustained,
p95 <= 2 s, zero lost, zero double-queued.

    .venv/bin/python bench/bench_monitoring_ingest.py --strips 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import func, select

from bench_service import PIN, free_port, start_server

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cinc2017"


def prepare(url: str, home: Path, devices: int) -> str:
    """Migrate, add an admin and a device account, enrol ``devices`` devices; the device token."""
    from ecgdesk.coding import Service
    from ecgdesk.store import open_store
    from ecgdesk.store.enums import Role
    from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll
    from ecgdesk.workflow.permissions import Principal
    from ecgdesk.workflow.sessions import create_token
    from ecgdesk.workflow.users import add_user

    store = open_store(url=url, home=home)
    try:
        add_user(store, "admin.b", "admin", PIN, actor="bench")
        add_user(store, "gateway.b", "technician", PIN, actor="admin.b", admin_password=PIN)
        for i in range(devices):
            request = EnrolmentRequest(
                f"M{i}", f"Roe, Pat {i}", date(1950, 1, 1 + i), "MF"[i % 2], f"DEV-{i}",
                Service.EVENT_MONITOR, date.today(), "1245319599", ("R00.2",),
            )
            enroll(store, request, "admin.b")
        admin = Principal(1, "admin.b", Role.ADMIN, "Admin", "bench")
        _, secret = create_token(store, admin, "gateway.b", "bench gateway")
        return secret
    finally:
        store.close()


async def send(base: str, token: str, strips: list[Path], n: int, devices: int, concurrency: int) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    answers: dict[int, int] = {}
    latencies: list[float] = []
    next_index = 0
    done = 0
    started = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index, done
        while next_index < n:
            i = next_index
            next_index += 1
            strip = strips[i % len(strips)]
            device = (i // len(strips)) % devices
            files = [("files", (p.name, p.read_bytes(), "application/octet-stream"))
                     for p in (strip.with_suffix(".hea"), strip.with_suffix(".mat"))]
            t0 = time.perf_counter()
            answer = await client.post("/api/v1/monitoring/transmissions",
                                       params={"device": f"DEV-{device}", "message_id": f"b{i}"},
                                       files=files, headers=headers)
            latencies.append(time.perf_counter() - t0)
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
            done += 1
            if done % 500 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  sent {done}/{n} ({rate:.1f}/s)", file=sys.stderr, flush=True)

    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"answers": answers, "send_s": elapsed, "post_p95_s": statistics.quantiles(latencies, n=20)[-1]}


def settle(url: str, accepted: int, timeout_s: float) -> None:
    """Wait until every accepted transmission's queue item is classified (or the timeout)."""
    from sqlalchemy import create_engine

    from ecgdesk.store.monitoring_models import QueueItem

    engine = create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as con:
                classified = con.scalar(select(func.count()).where(QueueItem.classified_at.is_not(None)))
            if classified is not None and classified >= accepted:
                return
            time.sleep(1.0)
    finally:
        engine.dispose()


def measure(url: str) -> dict[str, float]:
    from sqlalchemy import create_engine

    from ecgdesk.store.monitoring_models import QueueItem, Transmission

    engine = create_engine(url)
    try:
        with engine.connect() as con:
            transmissions = con.scalar(select(func.count()).select_from(Transmission)) or 0
            rows = con.execute(select(QueueItem.transmission_id, QueueItem.received_at,
                                      QueueItem.classified_at, QueueItem.priority)).all()
    finally:
        engine.dispose()
    waits = sorted((c - r).total_seconds() for _, r, c, _ in rows if c is not None)
    first = min(r for _, r, _, _ in rows)
    last = max(c for _, _, c, _ in rows if c is not None)
    per_transmission = len({t for t, *_ in rows})
    return {
        "transmissions": transmissions,
        "items": len(rows),
        "classified": len(waits),
        "lost": transmissions - per_transmission,
        "double_queued": len(rows) - per_transmission,
        "unclassified": len(rows) - len(waits),
        "rate_per_s": len(waits) / max((last - first).total_seconds(), 1e-9),
        "p50_s": statistics.median(waits),
        "p95_s": statistics.quantiles(waits, n=20)[-1],
        "max_s": waits[-1],
        "emergent": sum(1 for *_, p in rows if p == "emergent"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--strips", type=int, default=10_000)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--url", help="database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    strips = sorted(DATA.glob("*.hea"))
    if not strips:
        raise SystemExit(f"{DATA}: no cinc2017 strips")
    if args.strips > args.devices * len(strips):
        raise SystemExit(f"--strips {args.strips}: at most {args.devices * len(strips)} distinct with "
                         f"--devices {args.devices}")
    home = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    url = args.url or f"sqlite:///{home / 'ecgdesk.db'}"
    token = prepare(url, home, args.devices)
    port = free_port()
    server = start_server(url, home, port, args.workers)
    load_before = os.getloadavg()
    try:
        sent = asyncio.run(send(f"http://127.0.0.1:{port}", token, strips, args.strips, args.devices,
                                args.concurrency))
        accepted = sum(v for k, v in sent["answers"].items() if k in (200, 202))
        settle(url, accepted, timeout_s=600)
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(30)
    figures = measure(url)
    print(f"sent {args.strips} strips in {sent['send_s']:.1f} s ({args.strips / sent['send_s']:.1f}/s), "
          f"answers {sent['answers']}, POST p95 {sent['post_p95_s'] * 1000:.0f} ms")
    print(f"classified-and-queued: {figures['classified']} of {figures['items']} items "
          f"({figures['transmissions']} transmissions) at {figures['rate_per_s']:.1f}/s; arrival -> queued "
          f"p50 {figures['p50_s']:.2f} s, p95 {figures['p95_s']:.2f} s, max {figures['max_s']:.2f} s; "
          f"lost {figures['lost']}, double-queued {figures['double_queued']}, unclassified "
          f"{figures['unclassified']}, emergent {figures['emergent']}")
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}; {os.cpu_count()} cores")
    print("targets: >= 50 strips/s, p95 <= 2 s, 0 lost, 0 double-queued")


if __name__ == "__main__":
    main()
