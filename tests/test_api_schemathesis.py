"""Schemathesis against the REST API's own OpenAPI document, through the Flask app's WSGI
interface (no server): every operation is called with data generated from the document, as
an administrator (who may call every operation) on the demo city with a running plan cycle.

What must hold: no 5xx, every status code and content type is one the document names, and
every response body and header matches the document's schema. Bounded: a few examples per
operation, no shrinking deadline, so it runs in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402 — after the skip
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from processes import api_tokens  # noqa: E402
from tests.city import City  # noqa: E402
from webui.app import create_app  # noqa: E402

EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def api_city(tmp_path) -> Iterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    city = City(f"sqlite:///{tmp_path / 'kedja.sqlite'}")
    city.start("plan_cycle", 2026)  # so that lists have tasks and cases in them
    app = create_app(
        city.engine,
        {"SECRET_KEY": "tests", "KEDJA_API_RATE_LIMIT": "100000 per minute", "TESTING": True},
    )
    _info, token = api_tokens.create(city.engine, "admin", "schemathesis")
    yield app, token
    city.close()


def test_every_operation_keeps_to_the_document(api_city: tuple[Any, str]) -> None:
    app, token = api_city
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    failed: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation but the document itself (schemathesis leaves out the schema's own path).
    assert len(operations) == 13

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # every operation runs; the failures are listed together
            failed[operation.label] = f"{type(exc).__name__}: {exc}"
    assert not failed, "\n\n".join(f"{label}\n{text}" for label, text in failed.items())
