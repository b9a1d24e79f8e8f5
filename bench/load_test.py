"""Load test: Kedja as a city runs it — gunicorn, separate timer workers, PostgreSQL.

What runs (all on loopback, all real processes):

- `kedja serve --production --workers 2` (gunicorn) on a fresh PostgreSQL database made
  for this run by tests/conftest.py's `pg_database` (dropped at the end);
- two `kedja worker` processes firing timers;
- a starter in this process that keeps a backlog of instances of a small load process
  (start -> a 1 s timer -> a user task -> end), so timers fire all the time;
- N client threads that complete the user tasks through the REST API (docs/api.md) for the
  given seconds, as an integration would. Each client is its own user of the register with
  its own personal API token (processes/api_tokens.py, created directly in the run's
  database) and the task is offered to all of them (candidateUsers). A client lists the
  tasks it may take (`GET /api/v1/tasks`), picks a few nobody else has picked and completes
  each (`POST /api/v1/tasks/{id}/complete`, `{"data": {}}`), then lists again. One task in
  ten is also handed to a second client, so the two race: exactly one must get 200, the
  other 409, and the task must be completed once.

With `--kill-worker`, one `kedja worker` is killed with SIGKILL in the middle of the run and
started again.

Checked at the end (exit 1 if any fails): no 5xx; only 200 and 409 from completing, only 200
from listing; every raced task answered once 200 and once 409, no 409 for any other task;
every 200 ("completed") answer matches exactly one `task.completed` event in the history, and
there are no others; every instance's timer fired exactly once (none lost, none twice),
after a drain period in which the workers catch up; the audit chain verifies. Printed:
completions per second, p50/p95 latency of the completing POSTs (and of the listing GETs),
the status counts.

    .venv/bin/python bench/load_test.py [--seconds 60] [--clients 20] [--kill-worker]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

The API's rate limit (`KEDJA_API_RATE_LIMIT`, default 1200 per minute per token and web
process) is raised for the run: the bench measures the engine, not the throttle.
tests/test_load.py runs the short form (10 s, 4 clients) in CI.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.actors import Actor  # noqa: E402
from engine.models import HistoryEvent, ProcessInstance  # noqa: E402
from processes import api_tokens  # noqa: E402
from processes.governance import register_of  # noqa: E402
from tests import conftest  # noqa: E402
from tests.diagrams import Diagram  # noqa: E402

KEY = "belastning"
USER = "belastning"  # clients are belastning01, belastning02, ...
RATE_LIMIT = "100000 per minute"
KEDJA = str(Path(sys.executable).parent / "kedja")
COMPLETE_OK, RACE_LOST = 200, 409
PICK = 4
"""How many tasks a client takes from one listing before it lists again."""


@dataclass
class Settings:
    seconds: float = 60.0
    clients: int = 20
    kill_worker: bool = False
    timer_seconds: int = 1
    backlog: int = 0  # instances kept running; 0: 10 per client
    drain_seconds: float = 30.0
    duplicate_share: float = 0.1


@dataclass
class Result:
    seconds: float
    completions: int
    statuses: Counter = field(default_factory=Counter)  # of the completing POSTs
    list_statuses: Counter = field(default_factory=Counter)  # of the listing GETs
    latencies: list[float] = field(default_factory=list)  # completing POSTs answered 200
    list_latencies: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    instances: int = 0
    timers_fired: int = 0
    races: int = 0
    killed_worker: bool = False

    @property
    def per_second(self) -> float:
        return self.completions / self.seconds if self.seconds else 0.0

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        values = self.latencies if values is None else values
        if not values:
            return 0.0
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    def report(self) -> str:
        lines = [
            f"completions: {self.completions} in {self.seconds:.1f} s = "
            f"{self.per_second:.1f} per second",
            f"latency of completing POSTs: p50 {self.percentile(0.5) * 1000:.0f} ms, "
            f"p95 {self.percentile(0.95) * 1000:.0f} ms",
            f"latency of listing GETs: p50 {self.percentile(0.5, self.list_latencies) * 1000:.0f}"
            f" ms, p95 {self.percentile(0.95, self.list_latencies) * 1000:.0f} ms",
            f"HTTP statuses: complete {dict(sorted(self.statuses.items()))}, "
            f"list {dict(sorted(self.list_statuses.items()))}",
            f"raced tasks (sent by two clients): {self.races}",
            f"instances started: {self.instances}, timers fired: {self.timers_fired}"
            + (" (a worker was killed with SIGKILL and restarted)" if self.killed_worker else ""),
        ]
        lines.append("OK" if not self.problems else "FAILED:\n  " + "\n  ".join(self.problems))
        return "\n".join(lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _users(clients: int) -> list[str]:
    return [f"{USER}{n:02d}" for n in range(1, clients + 1)]


def _load_process(folder: Path, timer_seconds: int, users: list[str]) -> Path:
    diagram = (
        Diagram(KEY, "Belastningsprov")
        .start()
        .timer("vanta", f'"PT{timer_seconds}S"')
        .user("arbete", "Arbete", candidateUsers=",".join(users))
        .end()
    )
    diagram.flow("start", "vanta").flow("vanta", "arbete").flow("arbete", "end")
    path = folder / f"{KEY}.bpmn"
    path.write_text(diagram.xml(), encoding="utf-8")
    return path


class Client:
    """One kept-alive HTTP connection that sends a bearer token with every request."""

    def __init__(self, port: int, token: str = "") -> None:
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=payload, headers=headers)
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
        kind = response.headers.get("Content-Type", "")
        return response.status, json.loads(data) if "json" in kind and data else data


class Picker:
    """Which client completes which task: each listed task goes to the first client that
    picks it; one in `share` is also put in another client's inbox, so two clients send it.
    Only these deliberate races may answer 409."""

    def __init__(self, clients: int, share: float) -> None:
        self.lock = threading.Lock()
        self.taken: set[int] = set()
        self.raced: set[int] = set()
        self.inboxes: list[queue.SimpleQueue[int]] = [queue.SimpleQueue() for _ in range(clients)]
        self.share = share
        self.rng = random.Random(7)

    def pick(self, me: int, listed: list[int], count: int) -> list[int]:
        mine = []
        with self.lock:
            for task_id in listed:
                if task_id in self.taken:
                    continue
                self.taken.add(task_id)
                mine.append(task_id)
                if len(self.inboxes) > 1 and self.rng.random() < self.share:
                    other = self.rng.choice([i for i in range(len(self.inboxes)) if i != me])
                    self.raced.add(task_id)
                    self.inboxes[other].put(task_id)
                if len(mine) == count:
                    break
        return mine


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
    """Set everything up on a new database, run the load, check, tear down."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="kedja-load-"))
    processes: list[subprocess.Popen] = []  # type: ignore[type-arg]
    with conftest.pg_database("kedja_load") as url:
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


def _run(settings: Settings, url: str, log_dir: Path, processes: list) -> Result:  # type: ignore[type-arg]
    from webui.cli import open_engine

    env = {**os.environ, "KEDJA_DATABASE_URL": url, "KEDJA_SECRET_KEY": secrets.token_hex(32)}
    env["PYTHONPATH"] = str(REPO)
    env["KEDJA_API_RATE_LIMIT"] = RATE_LIMIT
    subprocess.run([KEDJA, "db", "upgrade"], env=env, check=True, capture_output=True)
    engine = open_engine(url)
    users = _users(settings.clients)
    tokens = []
    for user in users:
        register_of(engine).add_user(user, f"Belastningsprov {user}")
        tokens.append(api_tokens.create(engine, user, "belastningsprov")[1])
    engine.repository.deploy(
        [_load_process(log_dir, settings.timer_seconds, users)], Actor("bench", admin=True)
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

    result = Result(seconds=settings.seconds, completions=0)
    outcomes: dict[int, list[int]] = defaultdict(list)  # task id -> statuses of completing
    picker = Picker(settings.clients, settings.duplicate_share)
    lock = threading.Lock()
    stop = threading.Event()
    backlog = settings.backlog or 10 * settings.clients
    started: list[int] = []
    actor = Actor("bench", admin=True)
    listing = f"/api/v1/tasks?scope=claimable&process={KEY}&limit=100"

    def starter() -> None:
        """Keep `backlog` instances running, so there are always timers and tasks."""
        while not stop.is_set():
            with engine.db.read() as session:
                running = session.scalar(
                    select(text("count(*)"))
                    .select_from(ProcessInstance)
                    .where(ProcessInstance.key == KEY, ProcessInstance.state == "running")
                )
            for _ in range(max(0, backlog - (running or 0))):
                started.append(engine.runtime.start(KEY, {}, actor).instance_id)
            stop.wait(0.2)

    def complete(client: Client, task_id: int) -> None:
        began = time.perf_counter()
        status, _ = client.request("POST", f"/api/v1/tasks/{task_id}/complete", {"data": {}})
        elapsed = time.perf_counter() - began
        with lock:
            result.statuses[status] += 1
            outcomes[task_id].append(status)
            if status == COMPLETE_OK:
                result.latencies.append(elapsed)

    def client_loop(me: int) -> None:
        try:
            _client_loop(me)
        except Exception as exc:  # a client that died (a timeout, a refused connection)
            with lock:
                result.problems.append(f"client {me + 1} failed: {type(exc).__name__}: {exc}")

    def _client_loop(me: int) -> None:
        client = Client(port, tokens[me])
        inbox = picker.inboxes[me]
        rng = random.Random(me)
        while not stop.is_set():
            try:  # a task another client also has: race it
                complete(client, inbox.get_nowait())
                continue
            except queue.Empty:
                pass
            began = time.perf_counter()
            status, body = client.request("GET", listing)
            elapsed = time.perf_counter() - began
            with lock:
                result.list_statuses[status] += 1
                result.list_latencies.append(elapsed)
            if status != 200:
                stop.wait(0.2)
                continue
            listed = [item["id"] for item in body["items"]]
            rng.shuffle(listed)  # twenty clients listing the same page would all want its top
            mine = picker.pick(me, listed, PICK)
            if not mine:
                stop.wait(0.1)
            for task_id in mine:
                if stop.is_set():
                    break
                complete(client, task_id)

    threads = [threading.Thread(target=starter, daemon=True)]
    threads += [
        threading.Thread(target=client_loop, args=(i,), daemon=True)
        for i in range(settings.clients)
    ]
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
    completed_ok = [t for t, answers in outcomes.items() for s in answers if s == COMPLETE_OK]
    result.completions = len(completed_ok)
    result.instances = len(started)

    _drain(engine, settings.drain_seconds)
    _check(engine, result, outcomes, picker.raced, started)
    engine.close()
    (log_dir / "result.json").write_text(
        json.dumps(
            {
                "completions": result.completions,
                "per_second": result.per_second,
                "p50_ms": result.percentile(0.5) * 1000,
                "p95_ms": result.percentile(0.95) * 1000,
                "list_p95_ms": result.percentile(0.95, result.list_latencies) * 1000,
                "statuses": result.statuses,
                "list_statuses": result.list_statuses,
                "races": result.races,
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


def _check(
    engine: Any,
    result: Result,
    outcomes: dict[int, list[int]],
    raced: set[int],
    started: list[int],
) -> None:
    problems = result.problems
    server_errors = sum(n for status, n in result.statuses.items() if status >= 500)
    server_errors += sum(n for status, n in result.list_statuses.items() if status >= 500)
    if server_errors:
        problems.append(f"{server_errors} answers were 5xx")
    unexpected = {s: n for s, n in result.statuses.items() if s not in (COMPLETE_OK, RACE_LOST)}
    if unexpected:
        problems.append(f"unexpected statuses of completing: {unexpected}")
    unexpected = {s: n for s, n in result.list_statuses.items() if s != 200}
    if unexpected:
        problems.append(f"unexpected statuses of listing: {unexpected}")
    both_sent = {t for t in raced if len(outcomes.get(t, [])) == 2}
    result.races = len(both_sent)
    bad_races = [t for t in both_sent if sorted(outcomes[t]) != [COMPLETE_OK, RACE_LOST]]
    if bad_races:
        problems.append(
            f"raced tasks not answered once 200 and once 409: "
            f"{[(t, outcomes[t]) for t in bad_races[:10]]}"
        )
    alone = [t for t, seen in outcomes.items() if t not in both_sent and seen != [COMPLETE_OK]]
    if alone:
        problems.append(
            f"tasks sent by one client not answered 200: {[(t, outcomes[t]) for t in alone[:10]]}"
        )
    completed_ok = [t for t, answers in outcomes.items() for s in answers if s == COMPLETE_OK]
    if len(set(completed_ok)) != len(completed_ok):
        problems.append("a task was reported completed (200) to two clients")
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
            f"history and answers disagree: {len(missing)} answered 200 but not recorded, "
            f"{len(extra)} recorded without a 200 answer"
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
    parser.add_argument(
        "--pg-url",
        default=conftest.PG_ADMIN_URL,
        help="A PostgreSQL URL to create the run's database in (default: KEDJA_TEST_PG_URL, "
        "else the tests' default).",
    )
    parser.add_argument("--keep-logs", type=Path, default=None, help="Write the logs here.")
    args = parser.parse_args()
    # pg_database creates in the tests' PostgreSQL; point it at the one asked for.
    conftest.PG_ADMIN_URL = args.pg_url
    settings = Settings(seconds=args.seconds, clients=args.clients, kill_worker=args.kill_worker)
    if args.keep_logs:
        args.keep_logs.mkdir(parents=True, exist_ok=True)
    result = run(settings, args.keep_logs)
    print(result.report())
    return 0 if not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
