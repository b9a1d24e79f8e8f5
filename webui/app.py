"""The Flask application factory.

One blueprint per area, each a package with its templates beside it: `auth` (sign-in),
`tasks` (the task list and forms), `decisions` (the council's items and the register),
`instances` (a case: diagram, history, tasks), `overview` (the annual wheel, the tertial
dashboard, the council's agenda), `account` (a user's settings and calendar feed),
`modeller` (process owners edit, check and deploy diagrams), `admin`
(status), `public` (pages anyone may read: the accessibility statement and the prize
nomination form). Every page is
server-rendered HTML that works without JavaScript; scripts only add to it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, send_from_directory, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine import Engine

from . import i18n, json_limits, names, observability, query_args, security
from .auth.access import current_actor, login_manager

BLUEPRINTS = (
    "auth",
    "public",
    "tasks",
    "decisions",
    "instances",
    "overview",
    "account",
    "modeller",
    "admin",
    "api",
)
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
VENDOR = {
    # Only these npm files are served; node_modules itself is never exposed.
    "bpmn-js": ("dist/",),
}
MENU = (
    ("tasks.index", _l("Uppgifter"), None),
    ("decisions.index", _l("Beslut"), None),
    ("instances.index", _l("Ärenden"), None),
    (
        "overview.dashboard",
        _l("Lägesöversikt"),
        (
            "coordinator",
            "council",
            "council_secretary",
            "city_director",
            "security_chief",
            "auditor",
            "responsible",
            "head",
        ),
    ),
    ("overview.agenda", _l("Dagordning"), ("council", "council_secretary", "coordinator")),
    ("overview.wheel", _l("Årshjul"), None),
    ("modeller.index", _l("Modellera"), ("process_owner", "administrator")),
    ("admin.cockpit", _l("Driftöversikt"), ("administrator",)),
    ("admin.status", _l("Status"), ("administrator", "auditor", "process_owner")),
)


def create_app(engine: Engine, config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.extensions["kedja_engine"] = engine
    app.config["SECRET_KEY"] = security.secret_key_for(engine.db.url)
    app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024  # attachments
    app.config.update(config or {})
    app.config["KEDJA_CONFIG_OVERRIDES"] = dict(config or {})
    json_limits.init_app(app)  # every request body parsed as JSON: nesting limited
    query_args.init_app(app)  # every <int:…> in a route: at most a 32-bit id
    security.init_app(app)
    observability.init_app(app)
    i18n.init_app(app)
    login_manager.init_app(app)
    for name in BLUEPRINTS:
        module = _blueprint_module(name)
        if module is not None:
            app.register_blueprint(module.bp)

    app.jinja_env.globals["has_endpoint"] = lambda endpoint: endpoint in app.view_functions
    app.context_processor(names.template_names)  # user, organisation, process names …

    @app.context_processor
    def _menu() -> dict[str, Any]:
        def main_menu() -> list[tuple[str, str]]:
            if not current_user.is_authenticated:
                return []
            actor = current_actor()
            return [
                (endpoint, str(label))
                for endpoint, label, roles in MENU
                if endpoint in app.view_functions
                and (roles is None or actor.admin or actor.roles & set(roles))
            ]

        return {"main_menu": main_menu}

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if "tasks.index" in app.view_functions:
            return redirect(url_for("tasks.index"))
        return redirect(url_for("admin.status"))

    @app.get("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str):  # type: ignore[no-untyped-def]
        allowed = VENDOR.get(package)
        if not allowed or not filename.startswith(allowed):
            abort(404)
        return send_from_directory(NODE_MODULES / package, filename, max_age=3600)

    # /health/live and /health/ready: webui.observability (ok / not ok, nothing more).

    return app


def _blueprint_module(name: str) -> Any:
    """The blueprint package `webui.<name>`, if this release has it."""
    try:
        return importlib.import_module(f"webui.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"webui.{name}":
            return None
        raise
