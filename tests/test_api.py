"""The REST API (/api/v1) through Flask's test client, on the demo city: tokens, who may see
and do what (the web UI's rules), field problems as RFC 9457 problem details, conflicts, and
the OpenAPI document against the routes. Real engine, real SQLite, CSRF switched on (the API
is exempt from it, and must not accept a session cookie instead of a token).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processes import api_tokens
from tests.city import City
from webui.api.openapi import document
from webui.app import create_app
from webui.cli import main

SOURCES = (
    "brottsstatistik",
    "trygghetsmatning",
    "incidentrapporter",
    "risk_och_sarbarhetsanalys",
    "raddningstjanstens_statistik",
)
PROBLEM = "application/problem+json"


class Api:
    """A test client that sends one user's token with every request."""

    def __init__(self, app: Any, token: str | None) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(f"/api/v1{path}", headers=self.headers, **kwargs)


@pytest.fixture
def app(city: City) -> Any:
    return create_app(city.engine, {"SECRET_KEY": "tests", "WTF_CSRF_ENABLED": True})


@pytest.fixture
def api(city: City, app: Any) -> Any:
    def for_user(user: str) -> Api:
        _info, token = api_tokens.create(city.engine, user, "tests")
        return Api(app, token)

    return for_user


def lagesbild(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {source: {"anvand": False} for source in SOURCES}
    data["brottsstatistik"] = {"anvand": True, "sammanfattning": "Skadegörelsen ökar."}
    data["analys"] = "Skadegörelse kring centrum, kvällstid."
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def open_planning(city: City, api: Any) -> None:
    """Start the 2026 cycle, let the coordinator confirm everyone (through the API), open
    planning."""
    city.start("plan_cycle", 2026)
    coordinator = api("samordnare")
    confirm = city.task("samordnare", "confirm_participants")
    detail = coordinator.get(f"/tasks/{confirm.id}").get_json()
    assert detail["form_schema"]["type"] == "object"
    done = coordinator.post(
        f"/tasks/{confirm.id}/complete", json={"data": {"deltagare": detail["data"]["deltagare"]}}
    )
    assert done.status_code == 200, done.get_json()
    city.advance_to("2026-03-02T08:00")


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


# -- authentication ---------------------------------------------------------------------------


def test_without_a_token_or_with_a_revoked_one_the_answer_is_401(city: City, app: Any) -> None:
    body = assert_problem(Api(app, None).get("/tasks"), 401)
    assert "Bearer" in body["detail"]
    assert Api(app, None).get("/tasks").headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(Api(app, "kedja_" + "x" * 43).get("/tasks"), 401)
    assert_problem(Api(app, "not-even-a-token").get("/tasks"), 401)

    info, token = api_tokens.create(city.engine, "ansvarig.farsta", "script")
    assert Api(app, token).get("/tasks").status_code == 200
    api_tokens.revoke(city.engine, info.id)
    response = Api(app, token).get("/tasks")
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_of_a_deactivated_user_stops_working(city: City, app: Any) -> None:
    from processes.models import User

    _info, token = api_tokens.create(city.engine, "ansvarig.farsta", "script")
    assert Api(app, token).get("/tasks").status_code == 200
    with city.engine.db.write() as session:
        session.get(User, "ansvarig.farsta").active = False
    assert_problem(Api(app, token).get("/tasks"), 401)


def test_a_session_cookie_without_a_token_is_not_accepted(city: City, app: Any, api: Any) -> None:
    """A browser signed in to the web UI must not be usable cross-site against the API."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "admin"
        session["_fresh"] = True
    assert client.get("/uppgifter").status_code == 200  # the session works in the web UI
    assert_problem(client.get("/api/v1/tasks"), 401)
    assert_problem(client.post("/api/v1/messages", json={"name": "x"}), 401)
    # A token of someone else with the admin's cookie acts as the token's user, not admin.
    _info, token = api_tokens.create(city.engine, "ansvarig.farsta", "x")
    response = client.post(
        "/api/v1/messages", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(response, 403)
    assert "Set-Cookie" not in response.headers


def test_only_the_hash_of_a_token_is_stored(city: City) -> None:
    from sqlalchemy import select

    from processes.models import ApiToken

    info, token = api_tokens.create(city.engine, "radet1", "agenda export")
    assert token.startswith("kedja_") and len(token) > 40
    with city.engine.db.read() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.id == info.id)).one()
    assert row.token_hash == api_tokens.token_hash(token) and token not in row.token_hash
    assert api_tokens.user_for(city.engine, token) == "radet1"
    assert api_tokens.tokens(city.engine, "radet1")[0].last_used_at is not None


def test_the_token_command_creates_lists_and_revokes(city: City, sqlite_url: str) -> None:
    runner = CliRunner()
    made = runner.invoke(
        main, ["token", "create", "--db", sqlite_url, "--as", "samordnare", "--name", "ärenden"]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert api_tokens.user_for(city.engine, token) == "samordnare"

    listed = runner.invoke(main, ["token", "list", "--db", sqlite_url, "--json"])
    assert listed.exit_code == 0 and token not in listed.output
    rows = [r for r in json.loads(listed.stdout) if r["user"] == "samordnare"]
    assert rows[0]["name"] == "ärenden" and rows[0]["revoked_at"] is None

    revoked = runner.invoke(main, ["token", "revoke", "--db", sqlite_url, str(rows[0]["id"])])
    assert revoked.exit_code == 0, revoked.output
    assert api_tokens.user_for(city.engine, token) is None
    assert runner.invoke(main, ["token", "revoke", "--db", sqlite_url, "99999"]).exit_code == 1
    unknown = runner.invoke(main, ["token", "create", "--db", sqlite_url, "--as", "nobody"])
    assert unknown.exit_code == 1


# -- tasks ------------------------------------------------------------------------------------


def test_a_responsible_person_sees_claims_and_completes_their_task(city: City, api: Any) -> None:
    open_planning(city, api)
    farsta = api("ansvarig.farsta")
    listed = farsta.get("/tasks").get_json()
    assert [t["element_id"] for t in listed["items"]] == ["lagesbild"]
    task = listed["items"][0]
    assert task["organisation"] == "farsta" and task["may_claim"] and not task["overdue"]
    assert listed["total"] == 1 and listed["limit"] == 50

    assert farsta.get("/tasks?scope=mine").get_json()["total"] == 0
    claimed = farsta.post(f"/tasks/{task['id']}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == "ansvarig.farsta"
    assert farsta.get("/tasks?scope=mine").get_json()["total"] == 1
    assert farsta.get("/tasks?process=tertial_loop").get_json()["total"] == 0

    released = farsta.post(f"/tasks/{task['id']}/unclaim").get_json()
    assert released["assignee"] is None

    done = farsta.post(f"/tasks/{task['id']}/complete", json={"data": lagesbild()})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["task"]["state"] == "completed"
    assert body["task"]["completed_by"] == "ansvarig.farsta"
    assert body["incident"] is None


def test_another_organisations_task_is_not_found(city: City, api: Any) -> None:
    open_planning(city, api)
    bromma_task = city.task("ansvarig.bromma", "lagesbild")
    farsta = api("ansvarig.farsta")
    assert bromma_task.id not in [t["id"] for t in farsta.get("/tasks").get_json()["items"]]
    assert_problem(farsta.get(f"/tasks/{bromma_task.id}"), 404)
    assert_problem(farsta.post(f"/tasks/{bromma_task.id}/claim"), 404)
    assert_problem(
        farsta.post(f"/tasks/{bromma_task.id}/complete", json={"data": lagesbild()}), 404
    )
    assert_problem(farsta.get("/tasks/999999"), 404)
    assert_problem(farsta.get("/tasks/99999999999"), 404)
    assert city.engine.tasks.get(bromma_task.id).state == "open"
    assert farsta.get("/tasks?organisation=bromma").get_json()["total"] == 0


def test_a_missing_field_is_422_with_its_pointer_and_nothing_is_saved(city: City, api: Any) -> None:
    open_planning(city, api)
    task = city.task("ansvarig.farsta", "lagesbild")
    farsta = api("ansvarig.farsta")
    response = farsta.post(f"/tasks/{task.id}/complete", json={"data": lagesbild(analys=None)})
    body = assert_problem(response, 422)
    assert "/data/analys" in [e.get("pointer") for e in body["errors"]]
    assert all(e["message"] for e in body["errors"])
    assert city.engine.tasks.get(task.id).state == "open"

    # The body itself is checked against the OpenAPI document's schema too.
    body = assert_problem(farsta.post(f"/tasks/{task.id}/complete", json={}), 422)
    assert body["errors"] == [{"pointer": "/data", "message": "Required."}]
    body = assert_problem(farsta.post(f"/tasks/{task.id}/complete", json={"data": []}), 422)
    assert body["errors"][0]["pointer"] == "/data"
    assert_problem(farsta.post(f"/tasks/{task.id}/complete", data="{not json"), 400)


def test_a_second_completion_is_a_conflict(city: City, api: Any) -> None:
    open_planning(city, api)
    task = city.task("ansvarig.farsta", "lagesbild")
    farsta = api("ansvarig.farsta")
    assert farsta.post(f"/tasks/{task.id}/complete", json={"data": lagesbild()}).status_code == 200
    body = assert_problem(
        farsta.post(f"/tasks/{task.id}/complete", json={"data": lagesbild()}), 409
    )
    assert "already completed" in body["detail"]
    assert_problem(farsta.post(f"/tasks/{task.id}/claim"), 409)


def test_a_task_claimed_by_a_colleague_cannot_be_taken(city: City, api: Any) -> None:
    open_planning(city, api)
    city.register.add_user(
        "kollega.farsta", "Kollega", organisation="farsta", grants=[("responsible", "farsta")]
    )
    task = city.task("ansvarig.farsta", "lagesbild")
    assert api("ansvarig.farsta").post(f"/tasks/{task.id}/claim").status_code == 200
    colleague = api("kollega.farsta")
    seen = colleague.get(f"/tasks/{task.id}").get_json()
    assert seen["assignee"] == "ansvarig.farsta" and not seen["may_work"] and seen["data"] is None
    assert_problem(colleague.post(f"/tasks/{task.id}/claim"), 409)
    assert_problem(colleague.post(f"/tasks/{task.id}/unclaim"), 403)
    assert_problem(colleague.post(f"/tasks/{task.id}/complete", json={"data": lagesbild()}), 403)


def test_query_parameters_are_checked(city: City, api: Any) -> None:
    farsta = api("ansvarig.farsta")
    assert_problem(farsta.get("/tasks?scope=everything"), 400)
    assert_problem(farsta.get("/tasks?limit=0"), 400)
    assert_problem(farsta.get("/tasks?overdue=maybe"), 400)
    assert_problem(farsta.get("/instances?state=lost"), 400)
    assert farsta.get("/tasks?overdue=true").get_json()["total"] == 0


# -- definitions, deployments, instances ----------------------------------------------------------


def test_definitions_are_listed_for_everyone(api: Any) -> None:
    items = api("ansvarig.farsta").get("/definitions").get_json()["items"]
    assert {"plan_cycle", "tertial_loop", "guideline_revision", "safety_prize"} <= {
        d["key"] for d in items
    }
    only = api("ansvarig.farsta").get("/definitions?key=plan_cycle").get_json()["items"]
    assert [d["key"] for d in only] == ["plan_cycle"]


SIMPLE_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  id="defs" targetNamespace="http://kedja.example/test">
  <bpmn:process id="api_simple" name="API test" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_process_owners_deploy_and_others_may_not(api: Any) -> None:
    def upload(client: Api, content: str) -> Any:
        files = {"files": (io.BytesIO(content.encode()), "api_simple.bpmn")}
        return client.post("/deployments", data=files, content_type="multipart/form-data")

    assert_problem(upload(api("ansvarig.farsta"), SIMPLE_BPMN), 403)
    owner = api("processagare")
    first = upload(owner, SIMPLE_BPMN)
    assert first.status_code == 201, first.get_json()
    deployed = first.get_json()["deployed"]
    assert [(d["key"], d["version"], d["created"]) for d in deployed] == [("api_simple", 1, True)]
    again = upload(owner, SIMPLE_BPMN)
    assert again.status_code == 200 and not again.get_json()["deployed"][0]["created"]

    broken = assert_problem(upload(owner, "<bpmn:definitions"), 422)
    assert broken["errors"] and broken["errors"][0]["file"] == "api_simple.bpmn"
    empty = assert_problem(owner.post("/deployments", data={}), 422)
    assert empty["errors"][0]["pointer"] == "/files"


def test_starting_a_process_and_reading_the_case(city: City, api: Any) -> None:
    assert_problem(api("samordnare").post("/instances", json={"key": "plan_cycle"}), 403)
    admin = api("admin")
    missing_year = assert_problem(admin.post("/instances", json={"key": "plan_cycle"}), 422)
    assert missing_year["errors"] == [
        {"pointer": "/year", "message": "plan_cycle is started for a year."}
    ]
    unknown = assert_problem(admin.post("/instances", json={"key": "no_such_process"}), 422)
    assert unknown["errors"][0]["pointer"] == "/key"
    extra = assert_problem(admin.post("/instances", json={"key": "x", "other": 1}), 422)
    assert extra["errors"][0]["pointer"] == ""

    started = admin.post("/instances", json={"key": "plan_cycle", "year": 2026})
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    instance_id = body["instance"]["id"]
    assert body["instance"]["business_key"] == "plan_cycle:2026" and body["created_tasks"]
    assert_problem(admin.post("/instances", json={"key": "plan_cycle", "year": 2026}), 409)

    case = admin.get(f"/instances/{instance_id}").get_json()
    assert case["state"] == "running" and "data" in case
    # The coordinator (a city-wide role) sees every case, without its variables.
    coordinator = api("samordnare").get(f"/instances/{instance_id}").get_json()
    assert coordinator["id"] == instance_id and "data" not in coordinator
    listed = api("samordnare").get("/instances?key=plan_cycle&state=running").get_json()
    assert [i["id"] for i in listed["items"]] == [instance_id] and listed["total"] == 1
    # A responsible person sees it only once their organisation has a task in it.
    farsta = api("ansvarig.farsta")
    assert_problem(farsta.get(f"/instances/{instance_id}"), 404)
    assert farsta.get("/instances").get_json()["total"] == 0
    assert_problem(farsta.get("/instances/99999999999"), 404)


def test_a_process_outside_the_catalogue_starts_with_its_business_key(api: Any) -> None:
    owner = api("processagare")
    files = {"files": (io.BytesIO(SIMPLE_BPMN.encode()), "api_simple.bpmn")}
    owner.post("/deployments", data=files, content_type="multipart/form-data")
    # Start data is the start form's to declare; this process has none, so it takes none.
    refused = assert_problem(
        owner.post("/instances", json={"key": "api_simple", "data": {"a": 1}}), 422
    )
    assert [e["pointer"] for e in refused["errors"]] == ["/data/a"]
    assert owner.get("/instances?key=api_simple").get_json()["total"] == 0
    started = owner.post("/instances", json={"key": "api_simple", "business_key": "k-1"})
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["instance"]["state"] == "completed"
    assert started.get_json()["instance"]["business_key"] == "k-1"
    year = assert_problem(owner.post("/instances", json={"key": "api_simple", "year": 2026}), 422)
    assert year["errors"][0]["pointer"] == "/year"


# -- decisions and messages ----------------------------------------------------------------------


def test_the_decision_register(city: City, api: Any) -> None:
    reader = api("ansvarig.farsta")
    listed = reader.get("/decisions").get_json()
    assert listed["items"] == [] and listed["more"] is False
    assert_problem(reader.get("/decisions/RHR%202026:1"), 404)
    assert_problem(reader.get("/decisions/123"), 404)
    assert_problem(reader.get("/decisions?kind=king"), 400)


def test_messages_are_for_administrators(api: Any) -> None:
    assert_problem(api("samordnare").post("/messages", json={"name": "x"}), 403)
    body = assert_problem(api("admin").post("/messages", json={"name": "nobody_waits"}), 404)
    assert "nobody_waits" in body["detail"]
    invalid = assert_problem(api("admin").post("/messages", json={"payload": {}}), 422)
    assert invalid["errors"] == [{"pointer": "/name", "message": "Required."}]


# -- errors and the document -----------------------------------------------------------------------


def test_unknown_addresses_under_the_api_are_problems_too(app: Any, api: Any) -> None:
    client = api("admin")
    assert_problem(client.get("/no-such-thing"), 404)
    assert_problem(client.get("/tasks/-1"), 404)
    wrong_method = client.client.delete("/api/v1/tasks", headers=client.headers)
    assert_problem(wrong_method, 405)
    # ... while the web UI keeps its own error pages.
    assert app.test_client().get("/no-such-page").mimetype == "text/html"


def test_too_many_requests_is_429(city: City) -> None:
    app = create_app(city.engine, {"SECRET_KEY": "tests", "KEDJA_API_RATE_LIMIT": "3 per minute"})
    _info, token = api_tokens.create(city.engine, "radet1", "burst")
    client = Api(app, token)
    statuses = [client.get("/definitions").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert_problem(client.get("/definitions"), 429)


def _routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method.lower(), path))
    return found


def test_every_route_is_in_the_openapi_document_and_back(app: Any, api: Any) -> None:
    served = api("ansvarig.farsta").get("/openapi.json")
    assert served.status_code == 200
    doc = served.get_json()
    assert doc == Api(app, None).get("/openapi.json").get_json()  # public, no token needed
    assert doc["openapi"].startswith("3.1")
    documented = {
        (method, path)
        for path, operations in doc["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented == _routes(app)
    assert doc["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_docs_name_every_endpoint() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    for path, operations in document()["paths"].items():
        for method in operations:
            assert f"{method.upper()} /api/v1{path}" in text, f"{method} {path} not in docs/api.md"
