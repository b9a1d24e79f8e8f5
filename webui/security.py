"""What every request gets: security headers, CSRF protection, session cookie settings, the
secret key, the client's address behind a proxy, and the request rate limiter.

The content security policy allows no inline scripts or styles; every script is a file
under /static or /vendor. Forms carry a CSRF token (Flask-WTF) checked on every POST.

Flask-Limiter (memory storage, so counted per process) limits requests to the REST API, the
calendar feed and the public nomination form. Sign-in is not limited here: its throttle must
hold across every web process and host, so it is counted in the database
(`processes.sign_in_attempts`).

Behind a proxy every request comes from the proxy's address; `KEDJA_TRUSTED_PROXIES=N`
takes the client's address from the last N entries of `X-Forwarded-For` instead (werkzeug's
ProxyFix), so per-address limits count clients, not the proxy. Set it only when that many
proxies, and nothing else, stand in front: a client reaching the server directly could
otherwise claim any address.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.errors import ValidationError

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

csrf = CSRFProtect()
limiter = Limiter(get_remote_address, default_limits=[], storage_uri="memory://")


def secret_key_for(db_url: str) -> str:
    """The application's secret key for the database at `db_url`: the web app signs with it,
    and the sign-in throttle keys its hashes with it, so a command that clears a lock-out
    must find the very same key (the embedded default keeps it beside its SQLite file)."""
    var_dir = None
    if db_url.startswith("sqlite:///"):
        var_dir = Path(db_url.removeprefix("sqlite:///")).resolve().parent
    return secret_key(var_dir)


def secret_key(var_dir: Path | None) -> str:
    """KEDJA_SECRET_KEY, else a key kept in var/ (so sessions survive a restart of the
    embedded default), else a fresh one."""
    configured = os.environ.get("KEDJA_SECRET_KEY")
    if configured:
        return configured
    if var_dir is not None:
        path = var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
    return secrets.token_urlsafe(48)


def trusted_proxies() -> int:
    raw = os.environ.get("KEDJA_TRUSTED_PROXIES", "").strip() or "0"
    if not raw.isdigit():
        raise ValidationError(
            f"KEDJA_TRUSTED_PROXIES must be the number of proxies in front (0 for none), "
            f"not {raw!r}."
        )
    return int(raw)


def init_app(app: Flask) -> None:
    # Assigned, not setdefault: Flask's own defaults already hold these keys. A caller's
    # config (create_app(..., config)) is applied afterwards and may still override them.
    secure = os.environ.get("KEDJA_SECURE_COOKIES", "0") == "1"
    overrides = app.config.get("KEDJA_CONFIG_OVERRIDES", {})
    defaults = {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind TLS in production (docs/operations.md); the embedded default serves plain
        # HTTP on the loopback interface, where a Secure cookie would never be sent back.
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": secure,
        "WTF_CSRF_TIME_LIMIT": None,  # a long form may take a while
    }
    for key, value in defaults.items():
        if key not in overrides:
            app.config[key] = value
    csrf.init_app(app)
    limiter.init_app(app)
    proxies = trusted_proxies()
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]

    @app.after_request
    def _security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
