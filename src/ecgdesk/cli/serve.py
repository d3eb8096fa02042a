"""``ecgdesk serve``: the HTTP service on uvicorn (``--demo``: the demo database, a user per role)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ecgdesk.errors import InputError

    if args.workers < 1:
        raise InputError("workers", f"must be at least 1, got {args.workers}")
    from ecgdesk.service.settings import ServiceSettings

    # Each worker reads the service's settings when it starts: a bad one crashed every worker with a
    # traceback while uvicorn's parent went on waiting for them. Checked here once: exit 2 naming it.
    ServiceSettings.from_env()
    if args.demo:
        from ecgdesk.workflow.demo import DEMO_PIN, DEMO_USERS, ensure_service_demo

        demo = ensure_service_demo(
            Path(args.demo_dir), say=lambda step, msg: print(f"demo: {msg}", flush=True)
        )
        os.environ["ECGDESK_HOME"], os.environ["ECGDESK_DATABASE_URL"] = str(demo.home), demo.url
        state = "created" if demo.created else "opened"
        print(f"demo database {state}: {demo.home} (studies {', '.join(map(str, demo.study_ids))})")
        for name, role, _ in DEMO_USERS:
            print(f"  login {name:12} ({role}), password {DEMO_PIN}")
    else:
        from ecgdesk.store import open_store

        open_store().close()  # migrate once here, not in every worker at the same time
    print(
        f"ECG Desk at http://{args.host}:{args.port}/  (API docs: /docs, OpenAPI: /openapi.json)", flush=True
    )
    # the service queues its jobs; a worker process runs them (or, with --no-worker, workers elsewhere)
    os.environ["ECGDESK_SERVICE_JOBS"] = "queue"
    worker = None if args.no_worker else _start_worker(args.job_workers)
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit through `finally` then
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    try:
        uvicorn.run(
            "ecgdesk.service.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            # the app believes forwarded headers from ECGDESK_TRUSTED_PROXIES only (service.app)
            proxy_headers=False,
            log_level="info",
        )
    finally:
        if worker is not None:
            _stop_worker(worker)
    return 0


SERVE_WORKER_POLL_S = 0.25


def _start_worker(concurrency: int) -> subprocess.Popen[bytes]:
    """``ecgdesk worker --concurrency N`` beside the service, in the same environment."""
    from ecgdesk.errors import InputError

    if concurrency < 1:
        raise InputError("job-workers", f"must be at least 1, got {concurrency}")
    # a strip waits for its triage until the worker next looks at an empty queue: look 4 times a second
    # (a lease query on an empty queue costs about a millisecond)
    command = [sys.executable, "-m", "ecgdesk.cli.main", "worker", "--concurrency", str(concurrency),
               "--poll-s", str(SERVE_WORKER_POLL_S)]
    print(f"job worker: ecgdesk {' '.join(command[3:])}", flush=True)
    return subprocess.Popen([*command, "--parent-pid", str(os.getpid())])


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM: the worker gives its running jobs back (queued again) and exits."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the HTTP service (JSON API) on uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    serve.add_argument("--demo", action="store_true", help="serve the demo database (created once)")
    serve.add_argument(
        "--demo-dir", default="demo-serve", help="folder of the demo database (default ./demo-serve)"
    )
    serve.add_argument(
        "--no-worker", action="store_true",
        help="do not start a job worker: uploads and analyses wait for `ecgdesk worker` processes elsewhere",
    )
    serve.add_argument("--job-workers", type=int, default=1, metavar="N",
                       help="processes of the job worker started beside the service (default 1)")
    serve.set_defaults(func=_cmd_serve)
