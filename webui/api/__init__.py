"""The REST API, `/api/v1` (docs/api.md; the OpenAPI document is webui/api/openapi.py).

Every request is made as the user a personal API token belongs to
(`Authorization: Bearer <token>`, processes/api_tokens.py), with exactly the checks of the
web UI: the same visibility of tasks and cases (404 for what the user may not see, so ids
give nothing away), the same roles for deploying and starting, the engine's own rules for
claiming and completing.

The API accepts no session cookie. A browser signed in to the web UI sends its cookie to
any address of the site, also when another site makes it (a form posted cross-site); if
the API accepted it, that other site could act as the user. A bearer token is never sent
by a browser on its own, so the API needs no CSRF token (the blueprint is exempt) and
is not open to cross-site requests either.

Errors are RFC 9457 problem details (`application/problem+json`), also for addresses under
/api/v1 that do not exist.

The package, by job: this module makes the blueprint and its rate limit; `auth` finds the
caller from the token; `parsing` reads query parameters and bodies; `problems` turns every
failure into problem details; `responses` writes answers; the routes live by resource in
`definitions`, `instances`, `tasks`, `decisions` and `messages`.
"""

from __future__ import annotations

import hashlib
import os

from flask import Blueprint, current_app
from flask_limiter.util import get_remote_address

from webui.security import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens only: see the module's docstring

DEFAULT_RATE_LIMIT = "1200 per minute"


def _rate_limit() -> str:
    return str(
        current_app.config.get("KEDJA_API_RATE_LIMIT")
        or os.environ.get("KEDJA_API_RATE_LIMIT")
        or DEFAULT_RATE_LIMIT
    )


def _client_key() -> str:
    """Per token (a script behind a shared proxy is not throttled by its neighbours), else
    per address."""
    token = auth.bearer_token()
    if token:
        return "api-token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:24]
    return "api-address:" + get_remote_address()


limiter.limit(_rate_limit, key_func=_client_key)(bp)

# The modules below register their handlers and routes on `bp`.
from . import (  # noqa: E402, F401
    auth,
    decisions,
    definitions,
    instances,
    messages,
    problems,
    tasks,
)
