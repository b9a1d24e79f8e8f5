"""The status page and health endpoints: what `make run` shows before the task UI exists."""

from __future__ import annotations

from engine import Actor
from tests.diagrams import linear
from webui.app import create_app


def test_status_page_lists_deployed_processes_with_security_headers(engine, deploy):
    deploy(linear("granskning", 2))
    engine.runtime.start("granskning", {}, Actor("admin", admin=True))
    client = create_app(engine).test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'lang="sv"' in html and "granskning" in html
    assert "<strong>1</strong> pågående ärenden" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/static/kedja.css").status_code == 200


def test_health_endpoints(engine):
    client = create_app(engine).test_client()
    assert client.get("/health/live").json == {"status": "ok"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json["status"] == "ok"
