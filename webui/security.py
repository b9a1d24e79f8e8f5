"""What every request gets: security headers, CSRF protection, session cookie settings, the
secret key, the client's address behind a proxy, and the request rate limiter.

The content security policy allows no inline scripts or styles; every script is a file
under /static or /vendor. Forms carry a CSRF token (Flask-WTF) checked on every POST.

Flask-Limiter (memory storage, so counted per process) limits requests to the REST API, the
calendar feed and the public nomination form. Sign-in is not limited here: its throttle must
hold across every web process and host, so it is counted in the database
(`processes.sign_in_attempts`).

Behind a proxy every request comes from the proxy's address; `KEDJA_TRUSTED_PROXIES=N`
takes the client's address from the last N entries of `X-Forwarded-For`, and the scheme
(https or not) from the last N of `X-Forwarded-Proto`, instead (werkzeug's ProxyFix), so
per-address limits count clients, not the proxy, and Kedja knows the browser used TLS. Set
it only when that many proxies, and nothing else, stand in front: a client reaching the
server directly could otherwise claim any address. Without it, no forwarding header
(`X-Forwarded-*`, `X-Real-IP`, `Forwarded`) is believed anywhere.

Cookies are secure by default in production: `kedja serve --production` marks the session
and remember-me cookies `Secure` (sent back only over HTTPS), because a city's installation
is served over TLS and a session cookie that travels over plain HTTP can be taken by anyone
on the network. Plain-HTTP testing of a production set-up is the explicit exception:
`--insecure-http` or `KEDJA_SECURE_COOKIES=0`, and every web process then logs a warning.
The development server (`kedja serve`) serves plain HTTP on loopback, where a Secure cookie
would never come back, so there cookies are Secure only with `KEDJA_SECURE_COOKIES=1`.

A response to a request that came over TLS carries `Strict-Transport-Security` (one year,
this host only: other services on the city's subdomains are not ours to pin), so a browser
that has once reached Kedja over HTTPS never again tries plain HTTP.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.errors import ValidationError

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

HSTS = "max-age=31536000"
INSECURE_WARNING = (
    "INSECURE: cookies are sent over plain HTTP (--insecure-http or KEDJA_SECURE_COOKIES=0). "
    "Anyone who can see the traffic can take over a signed-in session. Use this only to test "
    "without TLS, never for a city's installation."
)

log = logging.getLogger("kedja.security")
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


def secure_cookies(production: bool, insecure_http: bool = False) -> bool:
    """Whether cookies are marked Secure: in production yes, unless `insecure_http` (the
    `--insecure-http` flag) or KEDJA_SECURE_COOKIES=0 turns it off; elsewhere only with
    KEDJA_SECURE_COOKIES=1. A value other than 0 or 1, or the flag together with
    KEDJA_SECURE_COOKIES=1, is refused, naming what to change."""
    raw = os.environ.get("KEDJA_SECURE_COOKIES", "").strip()
    if raw not in ("", "0", "1"):
        raise ValidationError(
            "KEDJA_SECURE_COOKIES must be 1 (cookies only over HTTPS) or 0 (also over plain "
            f"HTTP, for testing), or unset (secure in production), not {raw!r}."
        )
    if insecure_http and raw == "1":
        raise ValidationError(
            "--insecure-http and KEDJA_SECURE_COOKIES=1 contradict each other: drop one."
        )
    if insecure_http or raw == "0":
        return False
    return raw == "1" or production


def init_app(app: Flask) -> None:
    # Assigned, not setdefault: Flask's own defaults already hold these keys. A caller's
    # config (create_app(..., config)) is applied afterwards and may still override them.
    production = bool(app.config.get("KEDJA_PRODUCTION"))
    secure = secure_cookies(production, bool(app.config.get("KEDJA_INSECURE_HTTP")))
    if production and not secure:
        log.warning(INSECURE_WARNING)
    overrides = app.config.get("KEDJA_CONFIG_OVERRIDES", {})
    defaults = {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind TLS in production (see the module's docstring); the embedded default serves
        # plain HTTP on the loopback interface, where a Secure cookie would never come back.
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
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies
        )

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
        if request.is_secure:  # TLS to this process, or to a trusted proxy (ProxyFix)
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
