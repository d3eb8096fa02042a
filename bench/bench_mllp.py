"""MLLP order intake: ``ecgdesk interop listen`` under a bounded loopback load of ORM^O01 orders.

Starts the real listener as a subprocess on a fresh database, then C client connections each send N new
orders (one connection per client, one message at a time, waiting for each ACK as an EHR interface does).
Reports orders/s, the ACK latency p50/p95, and checks that every ACK is AA for its own control id, that the
database holds exactly one study per order, and that resending every order creates nothing (all duplicates).
Target (issue 17): >= 100 orders/s with all ACKs correct.

    .venv/bin/python bench/bench_mllp.py --clients 4 --orders 250
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ecgdesk.interop import hl7v2, mllp
from ecgdesk.store import open_store
from ecgdesk.workflow.users import add_user

PASSWORD = "bench-interface-2468"  # the listener authenticates as the interface account, as in production

ORDER = (
    "MSH|^~\\&|EHR|HOSP|ECGDESK|LAB|20261201120000||ORM^O01^ORM_O01|{control}|P|2.5.1\r"
    "PID|1||MRN{patient}^^^HOSP^MR||Roe^Rita{patient}||19560314|F\r"
    "ORC|NW|{placer}||||||||||1245319599^Smith^John^^^^^^^^^^NPI\r"
    "OBR|1|{placer}||93245^Extended ECG monitoring^C4\r"
    "TQ1|1|||||14^d\r"
    "DG1|1||R00.2^Palpitations^I10\r"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"listener did not open port {port}")


def client(
    port: int, first: int, count: int, latencies: list[float], acks: list[tuple[str, str]], prefix: str
) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        reader = mllp.FrameReader()
        for n in range(first, first + count):
            control = f"{prefix}{n}"
            started = time.perf_counter()
            conn.sendall(mllp.frame(ORDER.format(control=control, patient=n, placer=f"PL{n}")))
            frames: list[bytes] = []
            while not frames:
                frames = reader.feed(conn.recv(65536))
            latencies.append(time.perf_counter() - started)
            ack = hl7v2.read_ack(mllp.decode(frames[0]))
            acks.append((control, f"{ack.code}:{ack.control_id}"))


def run_load(
    port: int, clients: int, orders: int, prefix: str
) -> tuple[float, list[float], list[tuple[str, str]]]:
    latencies: list[float] = []
    acks: list[tuple[str, str]] = []
    threads = [
        threading.Thread(target=client, args=(port, k * orders, orders, latencies, acks, prefix))
        for k in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, acks


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--orders", type=int, default=250, help="orders per client")
    parser.add_argument("--out", default="bench/results/mllp.csv")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-mllp-"))
    port = free_port()
    env = {**os.environ, "ECGDESK_HOME": str(home), "ECGDESK_PASSWORD": PASSWORD}
    for name in ("ECGDESK_DATABASE_URL", "ECGDESK_TOKEN", "ECGDESK_USER"):
        env.pop(name, None)
    store = open_store(url=f"sqlite:///{home / 'ecgdesk.sqlite'}", home=home)
    add_user(store, "boss", "admin", PASSWORD, actor="bench")
    add_user(store, "interface", "technician", PASSWORD, actor="boss", admin_password=PASSWORD)
    store.close()
    listener = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecgdesk.cli.main",
            "interop",
            "listen",
            "--port",
            str(port),
            "--user",
            "interface",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port)
        wall, latencies, acks = run_load(port, args.clients, args.orders, "C")
        dup_wall, _, dup_acks = run_load(port, args.clients, args.orders, "C")
    finally:
        listener.terminate()
        listener.wait(30)
    total = args.clients * args.orders
    wrong = [a for a in acks if a[1] != f"AA:{a[0]}"]
    dup_wrong = [a for a in dup_acks if a[1] != f"AA:{a[0]}"]
    with sqlite3.connect(home / "ecgdesk.sqlite") as db:
        studies = db.execute("SELECT count(*) FROM studies").fetchone()[0]
        placers = db.execute("SELECT count(DISTINCT placer_order_number) FROM orders").fetchone()[0]
    rate = total / wall
    row = {
        "clients": args.clients,
        "orders": total,
        "wall_s": round(wall, 2),
        "orders_per_s": round(rate, 1),
        "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "acks_wrong": len(wrong),
        "studies": studies,
        "distinct_placers": placers,
        "resend_orders_per_s": round(total / dup_wall, 1),
        "resend_acks_wrong": len(dup_wrong),
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    for key, value in row.items():
        print(f"{key:>22}: {value}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    ok = rate >= 100 and not wrong and not dup_wrong and studies == total == placers
    print(
        "target >= 100 orders/s with every ACK correct and one study per order:", "met" if ok else "NOT met"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
