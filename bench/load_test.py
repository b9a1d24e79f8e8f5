"""Load test: Kedja as a city runs it — gunicorn, separate timer workers, PostgreSQL.

What runs (all on loopback, all real processes):

- `kedja serve --production --workers 2` (gunicorn) on a fresh PostgreSQL database made
  for this run (dropped at the end);
- two `kedja worker` processes firing timers;
- a starter in this process that keeps a backlog of instances of a small load process
  (start -> a 1 s timer -> a user task -> end), so timers fire all the time;
- N client threads that complete the user tasks through HTTP for the given seconds. They
  complete through the web UI's form POST (signed in once with the bench user's password,
  CSRF token from a page), as a browser does; one task in ten is handed to two clients at
  once, so the loser must get 409 and the task must still be completed once.

With `--kill-worker`, one `kedja worker` is killed with SIGKILL in the middle of the run and
started again.

Checked at the end (exit 1 if any fails): no 5xx; every 303 ("completed") answer matches
exactly one `task.completed` event in the history, and there are no others; every instance's
timer fired exactly once (none lost, none twice), after a drain period in which the workers
catch up; the audit chain verifies. Printed: completions per second, p50/p95 latency of the
completing POSTs, the status counts.

    .venv/bin/python bench/load_test.py [--seconds 60] [--clients 20] [--kill-worker]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

tests/test_load.py runs the short form (10 s, 4 clients) in CI.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import create_engine, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.actors import Actor  # noqa: E402
from engine.models import HistoryEvent, HumanTask, ProcessInstance  # noqa: E402
from tests.diagrams import Diagram  # noqa: E402

KEY = "belastning"
USER = "belastning"
PASSWORD = "kedja-belastning"  # a throwaway user on a throwaway database
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
DEFAULT_PG = os.environ.get(
    "KEDJA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
KEDJA = str(Path(sys.executable).parent / "kedja")


@dataclass
class Settings:
    seconds: float = 60.0
    clients: int = 20
    kill_worker: bool = False
    pg_url: str = DEFAULT_PG
    timer_seconds: int = 1
    backlog: int = 0  # instances kept running; 0: 10 per client
    drain_seconds: float = 30.0
    duplicate_share: float = 0.1


@dataclass
class Result:
    seconds: float
    completions: int
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    instances: int = 0
    timers_fired: int = 0
    killed_worker: bool = False

    @property
    def per_second(self) -> float:
        return self.completions / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    def report(self) -> str:
        lines = [
            f"completions: {self.completions} in {self.seconds:.1f} s = "
            f"{self.per_second:.1f} per second",
            f"latency of completing POSTs: p50 {self.percentile(0.5) * 1000:.0f} ms, "
            f"p95 {self.percentile(0.95) * 1000:.0f} ms",
            f"HTTP statuses: {dict(sorted(self.statuses.items()))}",
            f"instances started: {self.instances}, timers fired: {self.timers_fired}"
            + (" (a worker was killed with SIGKILL and restarted)" if self.killed_worker else ""),
        ]
        lines.append("OK" if not self.problems else "FAILED:\n  " + "\n  ".join(self.problems))
        return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_process(folder: Path, timer_seconds: int) -> Path:
    diagram = (
        Diagram(KEY, "Belastningsprov")
        .start()
        .timer("vanta", f'"PT{timer_seconds}S"')
        .user("arbete", "Arbete", candidateUsers=USER)
        .end()
    )
    diagram.flow("start", "vanta").flow("vanta", "arbete").flow("arbete", "end")
    path = folder / f"{KEY}.bpmn"
    path.write_text(diagram.xml(), encoding="utf-8")
    return path


class Client:
    """One HTTP connection with the shared signed-in session."""

    def __init__(self, port: int, cookie: str = "") -> None:
        self.port = port
        self.cookie = cookie
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read().decode("utf-8", "replace")
                break
            except (ConnectionError, http.client.HTTPException):
                # A kept-alive connection the server closed: reconnect once (never after a
                # request the server may have acted on: only when nothing came back at all).
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie(header)
            for morsel in jar.values():
                self.cookie = f"{morsel.key}={morsel.value}"
        return response.status, data


def sign_in(port: int) -> tuple[str, str]:
    """The session cookie and a CSRF token of the bench user."""
    client = Client(port)
    _status, page = client.request("GET", "/logga-in")
    token = TOKEN.search(page).group(1)  # type: ignore[union-attr]
    status, _ = client.request(
        "POST", "/logga-in", {"username": USER, "password": PASSWORD, "csrf_token": token}
    )
    if status != 302:
        raise RuntimeError(f"sign-in failed with {status}")
    _status, page = client.request("GET", "/uppgifter")
    return client.cookie, TOKEN.search(page).group(1)  # type: ignore[union-attr]


def _wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            status, _ = Client(port).request("GET", "/health/ready")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


def run(settings: Settings, log_dir: Path | None = None) -> Result:
    """Set everything up, run the load, check, tear down."""
    name = f"kedja_load_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(settings.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{settings.pg_url.rsplit('/', 1)[0]}/{name}"
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="kedja-load-"))
    processes: list[subprocess.Popen] = []
    try:
        return _run(settings, url, log_dir, processes)
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _run(settings: Settings, url: str, log_dir: Path, processes: list) -> Result:  # type: ignore[type-arg]
    from webui.cli import open_engine

    env = {**os.environ, "KEDJA_DATABASE_URL": url, "KEDJA_SECRET_KEY": secrets.token_hex(32)}
    env["PYTHONPATH"] = str(REPO)
    subprocess.run([KEDJA, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = open_engine(url)
    engine.register.add_user(USER, "Belastningsprov", password=PASSWORD)  # type: ignore[attr-defined]
    engine.repository.deploy(
        [_load_process(log_dir, settings.timer_seconds)], Actor("bench", admin=True)
    )

    port = _free_port()

    def spawn(args: list[str], log: str) -> subprocess.Popen:  # type: ignore[type-arg]
        out = (log_dir / log).open("ab")
        proc = subprocess.Popen([KEDJA, *args], env=env, stdout=out, stderr=out, cwd=log_dir)
        processes.append(proc)
        return proc

    spawn(["serve", "--production", "--workers", "2", "--bind", f"127.0.0.1:{port}"], "web.log")
    workers = [spawn(["worker", "--sweep", "0.5"], f"worker{i}.log") for i in (1, 2)]
    _wait_ready(port, time.monotonic() + 60)
    cookie, token = sign_in(port)

    result = Result(seconds=settings.seconds, completions=0)
    work: queue.Queue[int] = queue.Queue()
    completed_ok: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    backlog = settings.backlog or 10 * settings.clients
    started: list[int] = []
    actor = Actor("bench", admin=True)
    rng = random.Random(7)

    def feeder() -> None:
        """Keep instances coming and hand each new open task to the clients."""
        seen: set[int] = set()
        while not stop.is_set():
            with engine.db.read() as session:
                open_ids = list(
                    session.scalars(
                        select(HumanTask.id).where(
                            HumanTask.definition_key == KEY, HumanTask.state == "open"
                        )
                    )
                )
                running = session.scalar(
                    select(text("count(*)"))
                    .select_from(ProcessInstance)
                    .where(ProcessInstance.key == KEY, ProcessInstance.state == "running")
                )
            for task_id in open_ids:
                if task_id not in seen:
                    seen.add(task_id)
                    work.put(task_id)
                    if rng.random() < settings.duplicate_share:
                        work.put(task_id)  # a second client races for the same task
            for _ in range(max(0, backlog - (running or 0))):
                started.append(engine.runtime.start(KEY, {}, actor).instance_id)
            stop.wait(0.2)

    def client_loop() -> None:
        client = Client(port, cookie)
        while not stop.is_set():
            try:
                task_id = work.get(timeout=0.2)
            except queue.Empty:
                continue
            began = time.perf_counter()
            status, _ = client.request(
                "POST", f"/uppgifter/{task_id}", {"_action": "complete", "csrf_token": token}
            )
            elapsed = time.perf_counter() - began
            with lock:
                result.statuses[status] += 1
                if status == 303:
                    result.latencies.append(elapsed)
                    completed_ok.append(task_id)

    threads = [threading.Thread(target=feeder, daemon=True)]
    threads += [threading.Thread(target=client_loop, daemon=True) for _ in range(settings.clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    if settings.kill_worker:
        time.sleep(settings.seconds / 2)
        victim = workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        result.killed_worker = True
        time.sleep(1)
        workers[0] = spawn(["worker", "--sweep", "0.5"], "worker1-restarted.log")
    time.sleep(max(0.0, settings.seconds - (time.monotonic() - began)))
    stop.set()
    for t in threads:
        t.join(timeout=90)
    result.seconds = time.monotonic() - began
    result.completions = len(completed_ok)
    result.instances = len(started)

    _drain(engine, settings.drain_seconds)
    _check(engine, result, completed_ok, started)
    engine.close()
    (log_dir / "result.json").write_text(
        json.dumps(
            {
                "completions": result.completions,
                "per_second": result.per_second,
                "p95_ms": result.percentile(0.95) * 1000,
                "statuses": result.statuses,
                "problems": result.problems,
            },
            default=dict,
        )
    )
    return result


def _drain(engine: Any, seconds: float) -> None:
    """Wait until every instance timer has fired (the workers caught up): a timer still
    waiting after this is one the workers lost."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(t["instance_id"] is not None for t in engine.timers.waiting(limit=10_000)):
            return
        time.sleep(0.5)


def _check(engine: Any, result: Result, completed_ok: list[int], started: list[int]) -> None:
    problems = result.problems
    server_errors = sum(n for status, n in result.statuses.items() if status >= 500)
    if server_errors:
        problems.append(f"{server_errors} answers were 5xx")
    unexpected = {s: n for s, n in result.statuses.items() if s not in (303, 409)}
    if unexpected:
        problems.append(f"unexpected statuses {unexpected}")
    if len(set(completed_ok)) != len(completed_ok):
        problems.append("a task was reported completed (303) to two clients")
    with engine.db.read() as session:
        events = session.execute(
            select(HistoryEvent.kind, HistoryEvent.task_id, HistoryEvent.instance_id).where(
                HistoryEvent.kind.in_(("task.completed", "timer.fired")),
                HistoryEvent.instance_id.in_(
                    select(ProcessInstance.id).where(ProcessInstance.key == KEY)
                ),
            )
        ).all()
        timers_left = {
            t["instance_id"] for t in engine.timers.waiting(limit=100_000) if t["instance_id"]
        }
    completions = Counter(task_id for kind, task_id, _ in events if kind == "task.completed")
    fired = Counter(instance for kind, _, instance in events if kind == "timer.fired")
    result.timers_fired = sum(fired.values())
    twice = [t for t, n in completions.items() if n > 1]
    if twice:
        problems.append(f"tasks completed more than once in the history: {twice[:10]}")
    if set(completions) != set(completed_ok):
        missing = set(completed_ok) - set(completions)
        extra = set(completions) - set(completed_ok)
        problems.append(
            f"history and answers disagree: {len(missing)} answered 303 but not recorded, "
            f"{len(extra)} recorded without a 303 answer"
        )
    fired_twice = [i for i, n in fired.items() if n > 1]
    if fired_twice:
        problems.append(f"timers fired twice in instances {fired_twice[:10]}")
    lost = [i for i in started if fired[i] == 0]
    if lost:
        still = sum(1 for i in lost if i in timers_left)
        problems.append(
            f"timers of {len(lost)} instances never fired ({still} still waiting after the "
            f"drain period): {lost[:10]}"
        )
    verify = engine.verify_history()
    if verify:
        problems.append(f"audit chain does not verify: {verify[:3]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--kill-worker", action="store_true")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="A PostgreSQL URL to create in.")
    parser.add_argument("--keep-logs", type=Path, default=None, help="Write the logs here.")
    args = parser.parse_args()
    settings = Settings(
        seconds=args.seconds,
        clients=args.clients,
        kill_worker=args.kill_worker,
        pg_url=args.pg_url,
    )
    if args.keep_logs:
        args.keep_logs.mkdir(parents=True, exist_ok=True)
    result = run(settings, args.keep_logs)
    print(result.report())
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
