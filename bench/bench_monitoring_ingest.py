"""Event-monitoring ingest under load, on loopback, against the targets of issue 15.

The service is the real thing: ``ecgdesk serve`` in a child process, which stores and queues each strip
with its classification job (``monitor.classify``) and answers at once, while its job worker
(``--job-workers`` processes) classifies. A bounded load loop (httpx2, ``--concurrency`` requests in flight)
sends ``--strips`` strips of ``../shared/data/cinc2017`` (2,558 records, 9-61 s) to ``POST
/api/v1/monitoring/transmissions`` with a device API token, each with a new message id; the same content
on one device is a duplicate, so the repeats go to further enrolled devices (``--strips 10000``: 4 devices).

Into the same run, at known points (``--inject`` times each), go simulated strips with a sustained VT, a
12 s pause and complete AV block (``ecgdesk simulate`` events ``vt:1x150,pause:1x12s,avb3:1x2m``, cut to
60 s strips) from a device whose signed criteria make all three emergent. A poller reads ``GET
/api/v1/monitoring/queue`` (the technician's screen) every ``--poll-s`` seconds and records when each such
strip is first at the head of the queue: only emergent items before it (the still unclassified ones, which
the queue shows first because nobody has read them, aside).

Reported (and appended to ``bench/results/monitoring_ingest.csv``; one row per injected strip in
``monitoring_ingest_emergent.csv``): offered and classified-and-queued rates (items / time from the first
arrival to the last classification), p50/p95/max from arrival to classified-and-queued (the item's
``received_at`` to ``classified_at``, both stamped by the server), received (202 answers) vs queued, lost,
double-queued, jobs and classifications per item (exactly one each), each emergent strip's time to the head
of the queue against its due time, and the load average. Targets: >= 50 strips/s sustained, p95 <= 2 s,
zero lost, zero double-queued, every emergent strip at the head within its due time.

    .venv/bin/python bench/bench_monitoring_ingest.py --strips 10000 --job-workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import csv
import functools
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx2 as httpx
from sqlalchemy import create_engine, func, select

from bench_service import PIN, free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "cinc2017"
RESULTS = ROOT / "bench" / "results"
ORDERING_NPI = "1245319599"
EVENT_DEVICE = "EVT-1"
EVENTS = ("sustained_vt", "long_pause", "complete_block")


@dataclass
class Injected:
    kind: str
    path: Path
    at_index: int  # sent after this many cinc2017 strips
    message_id: str
    sent_at: float = 0.0  # perf_counter
    item_id: int | None = None
    head_after_s: float | None = None  # first seen at the head of the queue, seconds after sending
    priority: str = ""


def simulate_events(folder: Path, copies: int) -> dict[str, list[Path]]:
    """``copies`` distinct 60 s strips of each event kind, cut from one simulated 20-minute recording."""
    from ecgdesk.records import Recording, open_recording, write_recording
    from ecgdesk.records.simulator import SimulationConfig, simulate

    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    simulate(SimulationConfig(days=1200 / 86400, leads=1, seed=5, events="vt:1x150,avb3:1x2m,pause:1x12s",
                              name="ev", start=start), folder)
    truth = json.loads((folder / "ev.truth.json").read_text())
    recording = open_recording(folder / "ev.hea")
    episodes = {e["type"]: e for e in truth["episodes"]}
    begin = {"sustained_vt": episodes["vt"]["start_s"] - 5.0,
             "long_pause": episodes["pause"]["start_s"] - 20.0,
             "complete_block": episodes["avb3"]["start_s"] + 20.0}
    out: dict[str, list[Path]] = {}
    for kind, s0 in begin.items():
        out[kind] = []
        for i in range(copies):
            first = int((s0 + 0.4 * i) * recording.fs)
            data = recording.read(first, first + int(60 * recording.fs))
            strip = Recording.from_array(data[:, 0], recording.fs, lead_names=[recording.leads[0].name],
                                         start_time=start + timedelta(seconds=first / recording.fs),
                                         record_name=f"{kind}{i}")
            out[kind].append(write_recording(strip, folder / "strips", "wfdb", f"{kind}{i}"))
    return out


def prepare(url: str, home: Path, devices: int) -> str:
    """Migrate, add the users, enrol the devices (the event device with signed criteria that make VT,
    long pauses and complete block emergent); the gateway's API token."""
    from ecgdesk.coding import Service
    from ecgdesk.monitoring.criteria import default_criteria
    from ecgdesk.store import open_store
    from ecgdesk.store.enums import Role
    from ecgdesk.workflow.monitoring import EnrolmentRequest, enroll, sign_criteria
    from ecgdesk.workflow.permissions import Principal
    from ecgdesk.workflow.sessions import create_token
    from ecgdesk.workflow.users import add_user

    store = open_store(url=url, home=home)
    try:
        add_user(store, "admin.b", "admin", PIN, actor="bench")
        add_user(store, "gateway.b", "technician", PIN, actor="admin.b", admin_password=PIN)
        add_user(store, "dr.b", "physician", PIN, "Dr Bench", npi=ORDERING_NPI, credentials="MD",
                 actor="admin.b", admin_password=PIN)
        serials = [f"DEV-{i}" for i in range(devices)] + [EVENT_DEVICE]
        for i, serial in enumerate(serials):
            request = EnrolmentRequest(
                f"M{i}", f"Roe, Pat {i}", date(1950, 1, 1 + i), "MF"[i % 2], serial,
                Service.EVENT_MONITOR, date.today() - timedelta(days=1), ORDERING_NPI, ("R00.2",),
            )
            enrolment = enroll(store, request, "admin.b")
        rules = default_criteria().to_dict()
        for rule in rules["rules"]:
            if rule["event"] == "avb":
                rule["tier"] = "emergent"  # this patient's physician: complete block is an emergency
        sign_criteria(store, enrolment.id, rules, "dr.b", PIN)
        admin = Principal(1, "admin.b", Role.ADMIN, "Admin", "bench")
        _, secret = create_token(store, admin, "gateway.b", "bench gateway")
        return secret
    finally:
        store.close()


def tree_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the service process and by its job worker's processes."""
    import psutil

    root = psutil.Process(pid)
    spent = {"service": 0.0, "workers": 0.0}
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        spent["service" if process.pid == pid else "workers"] += times.user + times.system
    return spent


def own_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_serve(url: str, home: Path, port: int, job_workers: int) -> subprocess.Popen[bytes]:
    """``ecgdesk serve`` (the service and its job worker) on loopback; returns once it answers."""
    env = {**os.environ, "ECGDESK_DATABASE_URL": url, "ECGDESK_HOME": str(home)}
    log = open(home / "serve.log", "wb")  # noqa: SIM115 (the child writes it until it stops)
    command = [sys.executable, "-m", "ecgdesk.cli.main", "serve", "--port", str(port),
               "--job-workers", str(job_workers)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(3.0)  # the worker's processes warm up (imports) meanwhile
                return server
        except httpx.TransportError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"the service did not start; see {home / 'serve.log'}")


BOUNDARY = "ecgdesk-bench-boundary-7d1f"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@functools.cache
def _folder_names(folder: Path) -> list[str]:
    """A folder's names, sorted, listed once (a glob per strip of a 5,000-file folder was most of the
    load loop's CPU)."""
    return sorted(p.name for p in folder.iterdir())


def multipart_body(path: Path) -> bytes:
    """The ``files`` parts of one strip (its header and signal files), as a device gateway sends them."""
    parts = []
    names = _folder_names(path.parent)
    prefix = f"{path.stem}."
    first = bisect.bisect_left(names, prefix)
    for name in itertools.takewhile(lambda n: n.startswith(prefix), names[first:]):
        file = path.parent / name
        head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{file.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + file.read_bytes() + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class KeepAlive:
    """One keep-alive HTTP/1.1 connection on loopback: each request written as prepared bytes, each answer
    read by its Content-Length. The load loop shares the 2 cores with the service; a general client
    (httpx: ~4 ms of CPU a request here) would take a tenth of them from what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(data)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            raise RuntimeError("a chunked answer: not expected from this endpoint")
        body = await self.reader.readexactly(int(fields.get(b"content-length", b"0")))
        if fields.get(b"connection", b"").lower() == b"close":
            self.writer.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_load(base: str, token: str, strips: list[Path], n: int, concurrency: int,
                   injected: list[Injected], poll_s: float, url: str, offered: float | None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    answers: dict[int, int] = {}
    latencies: list[float] = []
    plan: list[tuple[Path, str, str, Injected | None]] = []
    by_index: dict[int, list[Injected]] = {}
    for inj in injected:
        by_index.setdefault(inj.at_index, []).append(inj)
    for i in range(n):
        for inj in by_index.get(i, []):
            plan.append((inj.path, EVENT_DEVICE, inj.message_id, inj))
        strip = strips[i % len(strips)]
        plan.append((strip, f"DEV-{i // len(strips)}", f"b{i}", None))
    bodies: dict[Path, bytes] = {}  # each body encoded once: the load loop's CPU is not the service's
    cursor = 0
    done = 0
    started = time.perf_counter()
    sending = True

    host, port = base.removeprefix("http://").split(":")
    prefix = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: {MULTIPART}\r\n")

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal cursor, done
        connection = KeepAlive(host, int(port))
        while cursor < len(plan):
            k = cursor
            cursor += 1
            path, device, message_id, inj = plan[k]
            if offered:  # paced: strip k leaves k / offered seconds after the start
                await asyncio.sleep(max(0.0, started + k / offered - time.perf_counter()))
            body = bodies.get(path) or bodies.setdefault(path, multipart_body(path))
            t0 = time.perf_counter()
            if inj is not None:
                inj.sent_at = t0
            query = urlencode({"device": device, "message_id": message_id})
            status, answer = await connection.request(
                f"POST /api/v1/monitoring/transmissions?{query} HTTP/1.1\r\n{prefix}"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            latencies.append(time.perf_counter() - t0)
            answers[status] = answers.get(status, 0) + 1
            if inj is not None and status == 202:
                inj.item_id = json.loads(answer)["item_id"]
            done += 1
            if done % 500 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  sent {done}/{len(plan)} ({rate:.1f}/s)", file=sys.stderr, flush=True)
        connection.close()

    async def poller(client: httpx.AsyncClient) -> None:
        while True:  # until everything sent is classified
            await asyncio.sleep(poll_s)
            answer = await client.get("/api/v1/monitoring/queue", headers=headers)
            if answer.status_code != 200:
                continue
            stamp = time.perf_counter()
            rows = answer.json()
            for position, row in enumerate(rows):
                for inj in injected:
                    if inj.item_id == row["id"] and inj.head_after_s is None:
                        ahead = {r["priority"] for r in rows[:position]} - {"emergent", "unclassified"}
                        inj.priority = row["priority"]
                        if row["priority"] == "emergent" and not ahead:
                            inj.head_after_s = stamp - inj.sent_at
            if not sending and classified_all(url, answers.get(202, 0)):
                return

    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        poll = asyncio.create_task(poller(client))
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        send_s = time.perf_counter() - started
        sending = False
        await asyncio.wait_for(poll, timeout=1800)
    return {"answers": answers, "send_s": send_s, "sent": len(plan),
            "post_p95_s": statistics.quantiles(latencies, n=20)[-1]}


def classified_all(url: str, accepted: int) -> bool:
    from ecgdesk.store.monitoring_models import QueueItem

    engine = create_engine(url)
    try:
        with engine.connect() as con:
            classified = con.scalar(select(func.count()).where(QueueItem.classified_at.is_not(None)))
    finally:
        engine.dispose()
    return classified is not None and classified >= accepted


def measure(url: str) -> dict[str, float]:
    from ecgdesk.store.jobs_models import Job
    from ecgdesk.store.models import AuditEntry
    from ecgdesk.store.monitoring_models import QueueItem, Transmission

    engine = create_engine(url)
    try:
        with engine.connect() as con:
            transmissions = con.scalar(select(func.count()).select_from(Transmission)) or 0
            rows = con.execute(select(QueueItem.transmission_id, QueueItem.received_at,
                                      QueueItem.classified_at, QueueItem.priority)).all()
            jobs = dict(con.execute(select(Job.status, func.count()).where(Job.kind == "monitor.classify")
                                    .group_by(Job.status)).all())
            attempts = con.scalar(select(func.max(Job.attempts)).where(Job.kind == "monitor.classify"))
            classifications = con.scalar(select(func.count()).where(AuditEntry.action == "monitor:classify"))
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
        "jobs_done": int(jobs.get("done", 0)),
        "jobs_other": int(sum(v for k, v in jobs.items() if k != "done")),
        "max_attempts": int(attempts or 0),
        "classifications": int(classifications or 0),
        "rate_per_s": len(waits) / max((last - first).total_seconds(), 1e-9),
        "p50_s": statistics.median(waits),
        "p95_s": statistics.quantiles(waits, n=20)[-1],
        "max_s": waits[-1],
        "emergent": sum(1 for *_, p in rows if p == "emergent"),
    }


def write_results(run: dict[str, object], injected: list[Injected], due_s: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "monitoring_ingest.csv"
    earlier = list(csv.DictReader(path.open())) if path.exists() else []
    fields = list(dict.fromkeys([*(earlier[0] if earlier else {}), *run]))  # older runs lack new columns
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows([*earlier, run])
    with (RESULTS / "monitoring_ingest_emergent.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run_at", "kind", "sent_after_strips", "item_id", "priority", "head_after_s",
                         "due_s", "in_time"])
        for inj in injected:
            head = "" if inj.head_after_s is None else f"{inj.head_after_s:.2f}"
            in_time = inj.head_after_s is not None and inj.head_after_s <= due_s
            writer.writerow([run["run_at"], inj.kind, inj.at_index, inj.item_id, inj.priority, head,
                             f"{due_s:.0f}", in_time])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strips", type=int, default=10_000, help="cinc2017 strips sent (repeated)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (at most)")
    parser.add_argument("--rate", type=float, default=None,
                        help="strips/s offered (default: as fast as the requests in flight allow)")
    parser.add_argument("--job-workers", type=int, default=2, help="processes of the service's job worker")
    parser.add_argument("--inject", type=int, default=3, help="times each emergent strip kind is injected")
    parser.add_argument("--poll-s", type=float, default=1.0, help="seconds between two reads of the queue")
    parser.add_argument("--url", help="database URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    from ecgdesk.monitoring.policy import queue_policy
    from ecgdesk.monitoring.triage import Priority

    strips = sorted(DATA.glob("*.hea"))
    if not strips:
        raise SystemExit(f"{DATA}: no cinc2017 strips")
    devices = -(-args.strips // len(strips))
    home = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    url = args.url or f"sqlite:///{home / 'ecgdesk.db'}"
    events = simulate_events(home / "sim", args.inject)
    injected = [
        Injected(kind, events[kind][j], round(args.strips * (j + 1) / (args.inject + 1)), f"evt-{kind}-{j}")
        for j in range(args.inject) for kind in EVENTS
    ]
    token = prepare(url, home, devices)
    port = free_port()
    server = start_serve(url, home, port, args.job_workers)
    load_before = os.getloadavg()
    cpu_before, own_before = tree_cpu_s(server.pid), own_cpu_s()
    try:
        sent = asyncio.run(run_load(f"http://127.0.0.1:{port}", token, strips, args.strips, args.concurrency,
                                    injected, args.poll_s, url, args.rate))
        load_after = os.getloadavg()
        cpu_after, own_after = tree_cpu_s(server.pid), own_cpu_s()
    finally:
        server.terminate()
        server.wait(60)
    figures = measure(url)
    accepted = sent["answers"].get(202, 0)
    due_s = queue_policy().due_minutes[Priority.EMERGENT] * 60
    in_time = sum(1 for i in injected if i.head_after_s is not None and i.head_after_s <= due_s)
    heads = [i.head_after_s for i in injected if i.head_after_s is not None]
    print(f"sent {sent['sent']} strips in {sent['send_s']:.1f} s ({sent['sent'] / sent['send_s']:.1f}/s "
          f"offered), answers {sent['answers']}, POST p95 {sent['post_p95_s'] * 1000:.0f} ms")
    lost = figures["lost"] + accepted - figures["items"]
    print(f"classified-and-queued: {figures['classified']} of {figures['items']} items "
          f"({figures['transmissions']} transmissions, {accepted} received) at "
          f"{figures['rate_per_s']:.1f}/s; arrival -> classified-and-queued p50 {figures['p50_s']:.2f} s, "
          f"p95 {figures['p95_s']:.2f} s, max {figures['max_s']:.2f} s; lost {lost}, double-queued "
          f"{figures['double_queued']}; jobs done {figures['jobs_done']} (other {figures['jobs_other']}, "
          f"most attempts {figures['max_attempts']}), classifications {figures['classifications']}")
    for inj in injected:
        head = "never" if inj.head_after_s is None else f"{inj.head_after_s:.1f} s"
        print(f"  {inj.kind:15s} sent after strip {inj.at_index:5d}: item {inj.item_id} "
              f"{inj.priority or '?'}, at the head of the queue after {head} (due {due_s:.0f} s)")
    print(f"emergent strips at the head within their due time: {in_time} of {len(injected)}"
          + (f" (slowest {max(heads):.1f} s)" if heads else ""))
    per_strip = {k: 1000 * (cpu_after[k] - cpu_before[k]) / max(accepted, 1) for k in cpu_after}
    per_strip["load loop"] = 1000 * (own_after - own_before) / max(accepted, 1)
    print("CPU per strip received: " + ", ".join(f"{k} {v:.1f} ms" for k, v in per_strip.items())
          + f" (total {sum(per_strip.values()):.1f} ms; 50 strips/s on {os.cpu_count()} cores allows "
          f"{1000 * (os.cpu_count() or 1) / 50:.0f} ms)")
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}; {os.cpu_count()} cores")
    print("targets: >= 50 strips/s, p95 <= 2 s, 0 lost, 0 double-queued, every emergent strip at the head "
          "in time")
    run = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": url.split(":", 1)[0], "strips": args.strips, "concurrency": args.concurrency,
        "job_workers": args.job_workers, "rate": args.rate or "",
        "offered_per_s": round(sent["sent"] / sent["send_s"], 2),
        "classified_per_s": round(figures["rate_per_s"], 2), "p50_s": round(figures["p50_s"], 3),
        "p95_s": round(figures["p95_s"], 3), "max_s": round(figures["max_s"], 3),
        "post_p95_s": round(sent["post_p95_s"], 3), "received": accepted, "queued": figures["items"],
        "lost": lost, "double_queued": figures["double_queued"],
        "classifications": figures["classifications"], "jobs_done": figures["jobs_done"],
        "emergent_injected": len(injected), "emergent_at_head_in_time": in_time,
        "cpu_ms_service": round(per_strip["service"], 1), "cpu_ms_workers": round(per_strip["workers"], 1),
        "cpu_ms_load_loop": round(per_strip["load loop"], 1),
        "load_before": round(load_before[0], 2), "load_after": round(load_after[0], 2),
        "cores": os.cpu_count(),
    }
    write_results(run, injected, due_s)


if __name__ == "__main__":
    main()
