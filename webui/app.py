"""The Flask application factory.

For now one status page (what is deployed, how much is running) and health endpoints; the
task list, forms and decisions arrive as their own blueprints. Every response carries a
content security policy without inline scripts, and no page shows personal data.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template

from engine import Engine


def create_app(engine: Engine) -> Flask:
    app = Flask(__name__)
    app.extensions["kedja_engine"] = engine

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return render_template(
            "status.html",
            definitions=engine.repository.definitions(latest_only=True),
            running=engine.runtime.count("running"),
            open_tasks=engine.tasks.list(limit=1).total,
        )

    @app.get("/health/live")
    def live():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    @app.get("/health/ready")
    def ready():  # type: ignore[no-untyped-def]
        engine.runtime.count()
        return jsonify(status="ok", database=engine.db.safe_url())

    return app
