"""Languages: Swedish first, English second (Flask-Babel), and dates as people read them.

Message ids are the Swedish text itself, so a template reads as the page a Swedish user sees;
each blueprint keeps its English catalogue beside it (`<blueprint>/translations/en/…/
messages.po`). Flask-Babel merges them into one catalogue, so one Swedish message has one
English translation everywhere (a test checks the catalogues agree); where a word means two
things, a context tells them apart (`pgettext("fält", "Beslut")`). Catalogues are compiled
to `.mo` when the application starts if the `.po` is newer (no build step to forget).

A signed-in user's language comes from their profile (changeable on every page); otherwise
from the session, then the browser's preference. Times are stored in UTC and shown in
Europe/Stockholm.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

log = logging.getLogger(__name__)
LANGUAGES = ("sv", "en")
STOCKHOLM = ZoneInfo("Europe/Stockholm")
WEBUI = Path(__file__).resolve().parent


def translation_directories() -> list[Path]:
    return sorted(p for p in WEBUI.glob("**/translations") if p.is_dir())


def compile_catalogues() -> None:
    """Compile every stale `.po` to `.mo` beside it."""
    for po in WEBUI.glob("**/translations/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalogue = read_po(source)
        try:
            with mo.open("wb") as target:
                write_mo(target, catalogue)
        except OSError as exc:  # an installed, read-only package ships its compiled .mo
            log.warning("cannot compile %s (%s); using the shipped catalogue", po, exc)


def select_locale() -> str:
    if getattr(current_user, "is_authenticated", False):
        language = getattr(current_user, "language", None)
        if language in LANGUAGES:
            return language
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "sv"


def local_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(STOCKHOLM)


def format_when(value: datetime | date | None, with_time: bool = True) -> str:
    """`2026-05-15 16:00` in Swedish (ISO-like, as Swedish authorities write dates),
    `15 May 2026, 16:00` in English."""
    if value is None:
        return ""
    locale = str(get_locale() or "sv")
    if isinstance(value, datetime):
        local = local_time(value)
        if locale == "sv":
            return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")
        if with_time:
            return format_datetime(local, "d MMM y, HH:mm", locale=locale)
        return format_date(local.date(), "d MMM y", locale=locale)
    if locale == "sv":
        return value.isoformat()
    return format_date(value, "d MMM y", locale=locale)


def init_app(app: Flask) -> Babel:
    compile_catalogues()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "sv")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Stockholm")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        str(p) for p in translation_directories()
    )
    babel = Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["when"] = format_when
    app.jinja_env.filters["day"] = lambda v: format_when(v, with_time=False)
    app.jinja_env.globals["current_language"] = lambda: str(get_locale() or "sv")
    return babel
