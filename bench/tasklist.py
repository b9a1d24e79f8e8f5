"""How long the first task-list page takes on a large city: server time of `GET /uppgifter`.

Builds, in a SQLite file, the schema of a real installation (the engine's and the
governance layer's migrations, the city's processes deployed) and fills it directly with
rows — far faster than running processes, and the list reads only these rows:

- 50 organisations (13 districts, central, specialist administrations and companies);
- 2,000 users: in every organisation responsible persons, a head, staff (and for districts
  the local council), plus city-wide coordinators, council members and jury members;
- 20,000 instances and 100,000 tasks, 10,000 of them open, spread over the organisations
  and roles as the processes spread them (responsible, head, staff, local council; city-wide
  coordinator and council tasks; jury tasks offered to one named member); a fifth of the
  open tasks claimed by someone, due dates two months either side of today.

Then, for many different users (every city-wide user, who see the most, and a random
sample of the others), the first page of their task list is requested through the real
application (Flask's test client, signed in), and the time from request to response is
taken. The engine's list query alone is timed too, so the page's own cost is visible beside
it.

    .venv/bin/python bench/tasklist.py [--users-sampled 400] [--keep DIR]

Target (issue 5): p95 <= 50 ms. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from engine import SimulatedClock
from engine.clock import to_storage
from engine.models import HumanTask, ProcessInstance, TaskCandidate
from processes import catalogue
from processes.governance import open_engine, register_of
from processes.models import Organisation, RoleGrant, User
from webui.app import create_app

NOW = datetime(2026, 4, 15, 8, 0, tzinfo=UTC)
KINDS = ["district"] * 13 + ["central"] * 2 + ["specialist"] * 20 + ["company"] * 15
ORG_ROLES = ("responsible", "head", "staff", "local_council")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def build(url: str, n_tasks: int, n_open: int, n_users: int, n_orgs: int, seed: int) -> Any:
    rng = random.Random(seed)
    t0 = time.perf_counter()
    engine = open_engine(url, SimulatedClock(NOW))
    catalogue.deploy(engine)
    definitions = {d.key: d for d in engine.repository.definitions(latest_only=True)}
    stored_now = to_storage(NOW)

    orgs = [(f"org{i:02d}", KINDS[i % len(KINDS)]) for i in range(n_orgs)]
    users: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    by_role: dict[tuple[str, str | None], list[str]] = {}

    def add_user(uid: str, org: str | None, role: str, scope: str | None) -> None:
        users.append(
            {
                "id": uid,
                "name": f"Användare {uid}",
                "email": None,
                "organisation_id": org,
                "password_hash": None,
                "language": "sv",
                "active": True,
                "created_at": stored_now,
            }
        )
        grants.append({"user_id": uid, "role": role, "organisation_id": scope})
        by_role.setdefault((role, scope), []).append(uid)

    city_wide = [("coordinator", 10), ("council", 12), ("jury_member", 8)]
    for role, count in city_wide:
        for i in range(count):
            add_user(f"{role}{i}", "org00", role, None)
    per_org, extra = divmod(n_users - len(users), n_orgs)
    for index, (org, kind) in enumerate(orgs):
        roles = ["responsible", "responsible", "head"]
        if kind == "district":
            roles.append("local_council")
        roles += ["staff"] * (per_org + (1 if index < extra else 0) - len(roles))
        for i, role in enumerate(roles):
            add_user(f"{org}.u{i:02d}", org, role, org)
    n_instances = n_tasks // 5

    with engine.db.write() as session:
        session.execute(
            insert(Organisation),
            [
                {
                    "id": org,
                    "name": f"Organisation {org}",
                    "kind": kind,
                    "local_council": "Lokalt råd" if kind == "district" else None,
                    "active": True,
                    "created_at": stored_now,
                }
                for org, kind in orgs
            ],
        )
        session.execute(insert(User), users)
        session.execute(insert(RoleGrant), grants)
        keys = list(definitions)
        session.execute(
            insert(ProcessInstance),
            [
                {
                    "id": i + 1,
                    "definition_id": definitions[keys[i % len(keys)]].id,
                    "key": keys[i % len(keys)],
                    "business_key": None,
                    "state": "running",
                    "started_at": stored_now - timedelta(days=200),
                    "started_by": "system",
                    "ended_at": None,
                    "version": 1,
                    "workflow_state": "{}",
                    "serializer_version": "bench",
                    "history_seq": 0,
                    "history_hash": "",
                    "open_incidents": 0,
                }
                for i in range(n_instances)
            ],
        )

        # Where tasks go: mostly per-organisation roles, some city-wide, some named.
        shares = [
            ("responsible", 0.40),
            ("head", 0.12),
            ("staff", 0.20),
            ("local_council", 0.08),
            ("coordinator", 0.08),
            ("council", 0.07),
            ("jury", 0.05),
        ]
        tasks: list[dict[str, Any]] = []
        candidates: list[dict[str, Any]] = []
        open_ids = set(rng.sample(range(1, n_tasks + 1), n_open))
        districts = [o for o, k in orgs if k == "district"]
        for task_id in range(1, n_tasks + 1):
            role = rng.choices([r for r, _ in shares], [w for _, w in shares])[0]
            org: str | None
            if role == "local_council":
                org = rng.choice(districts)
            elif role in ("coordinator", "council", "jury"):
                org = None
            else:
                org = rng.choice(orgs)[0]
            candidate_users: list[str] = []
            mirrored_role: str | None = role
            if role == "jury":
                candidate_users = [rng.choice(by_role[("jury_member", None)])]
                mirrored_role = None
                people = candidate_users
            elif org is None:
                people = by_role[(role, None)]
            else:
                people = by_role.get((role, org)) or by_role[("responsible", org)]
            is_open = task_id in open_ids
            assignee = rng.choice(people) if (not is_open or rng.random() < 0.2) else None
            created = stored_now - timedelta(days=rng.randint(1, 400))
            due = stored_now + timedelta(days=rng.randint(-60, 60), hours=rng.randint(0, 23))
            instance = rng.randint(1, n_instances)
            key = keys[(instance - 1) % len(keys)]
            tasks.append(
                {
                    "id": task_id,
                    "instance_id": instance,
                    "definition_id": definitions[key].id,
                    "definition_key": key,
                    "definition_version": definitions[key].version,
                    "spiff_task_id": f"00000000-0000-4000-8000-{task_id:012d}",
                    "element_id": f"uppgift_{role}",
                    "name": f"Uppgift för {role}",
                    "documentation": None,
                    "lane": role,
                    "role": mirrored_role,
                    "organisation": org,
                    "assignee": assignee,
                    "candidate_users": json.dumps(candidate_users),
                    "candidate_groups": "[]",
                    "due_at": due,
                    "priority": 50,
                    "form_schema": None,
                    "form_ui_schema": None,
                    "state": "open" if is_open else "completed",
                    "created_at": created,
                    "claimed_at": created if assignee else None,
                    "claimed_by": assignee,
                    "completed_at": None if is_open else created + timedelta(days=3),
                    "completed_by": None if is_open else assignee,
                    "draft": None,
                    "draft_saved_at": None,
                }
            )
            candidates += [
                {"task_id": task_id, "kind": "user", "value": u} for u in candidate_users
            ]
        for start in range(0, len(tasks), 5000):
            session.execute(insert(HumanTask), tasks[start : start + 5000])
        if candidates:
            session.execute(insert(TaskCandidate), candidates)
    print(
        f"built: {n_orgs} organisations, {len(users)} users, {n_instances} instances, "
        f"{n_tasks} tasks ({n_open} open) in {time.perf_counter() - t0:.1f} s"
    )
    return engine, [u["id"] for u in users]


def kind_of(user_id: str) -> str:
    if "." not in user_id:
        return user_id.rstrip("0123456789")
    return "per-organisation"


def measure(engine: Any, app: Any, chosen: list[str], label: str) -> dict[str, Any]:
    """Time the first task-list page for every user in `chosen`."""
    client = app.test_client()

    def sign_in(uid: str) -> None:
        with client.session_transaction() as session:
            session["_user_id"] = uid
            session["_fresh"] = True

    sign_in(chosen[0])
    assert client.get("/uppgifter").status_code == 200  # warm-up: templates, caches

    page_ms: list[float] = []
    list_ms: list[float] = []
    visible: list[int] = []
    first_ids: dict[str, list[int]] = {}
    per_kind: dict[str, list[float]] = {}
    for uid in chosen:
        sign_in(uid)
        t0 = time.perf_counter()
        response = client.get("/uppgifter")
        elapsed = (time.perf_counter() - t0) * 1000
        assert response.status_code == 200, response.status_code
        page_ms.append(elapsed)
        per_kind.setdefault(kind_of(uid), []).append(elapsed)

        actor = register_of(engine).actor(uid)
        t0 = time.perf_counter()
        page = engine.tasks.list(actor=actor, limit=25)
        list_ms.append((time.perf_counter() - t0) * 1000)
        visible.append(page.total)
        first_ids[uid] = [t.id for t in page.items]

    print(f"\n{label}")
    print(
        f"  first task-list page (GET /uppgifter): median {statistics.median(page_ms):.1f} ms, "
        f"p95 {percentile(page_ms, 95):.1f} ms, max {max(page_ms):.1f} ms"
    )
    print(
        f"  engine.tasks.list alone (count + first 25): median "
        f"{statistics.median(list_ms):.1f} ms, p95 {percentile(list_ms, 95):.1f} ms"
    )
    for kind, values in sorted(per_kind.items()):
        print(
            f"    {kind:18s} n={len(values):4d} page median {statistics.median(values):6.1f} ms"
            f", p95 {percentile(values, 95):6.1f} ms"
        )
    p95 = percentile(page_ms, 95)
    print(f"  target p95 <= 50 ms: {'met' if p95 <= 50 else 'NOT met'} ({p95:.1f} ms)")
    return {"visible": visible, "first_ids": first_ids, "p95": p95}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--open", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=2_000)
    ap.add_argument("--organisations", type=int, default=50)
    ap.add_argument("--users-sampled", type=int, default=400)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="build the database in this folder and keep it")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="kedja-tasklist-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "tasklist.sqlite"
    for stale in folder.glob("tasklist.sqlite*"):
        stale.unlink()  # a fresh city every run
    url = f"sqlite:///{database}"
    engine, user_ids = build(url, args.tasks, args.open, args.users, args.organisations, args.seed)
    try:
        app = create_app(engine, {"SECRET_KEY": "bench", "TESTING": True})
        # Every city-wide user (they see the most) and a random sample of the others.
        city_wide = [u for u in user_ids if "." not in u]
        others = [u for u in user_ids if "." in u]
        count = max(0, min(args.users_sampled - len(city_wide), len(others)))
        chosen = city_wide + random.Random(args.seed + 1).sample(others, count)
        print(f"users measured: {len(chosen)} ({dict(Counter(kind_of(u) for u in chosen))})")
        result = measure(engine, app, chosen, "first page of the task list")
        visible = result["visible"]
        print(
            f"  open tasks visible per user: median {statistics.median(visible):.0f}, "
            f"max {max(visible)}"
        )
    finally:
        engine.close()


if __name__ == "__main__":
    main()
