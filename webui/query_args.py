"""Numbers in the web UI's addresses: page numbers, versions and ids — read in one place.

Every page that reads a number from its address reads it here, so they all refuse bad ones
the same way: a number that is not a whole number in its range is answered with 400 and a
page saying which argument was wrong and what it must be, never passed on (a page number of
twenty digits once reached SQL's OFFSET and overflowed it: a 500). The rules:

* A page (`?sida=`, `?page=`) is a whole number from 1 to `MAX_PAGE`; missing means 1. A
  page past the end of a list is an empty page (the list may have shrunk since the link was
  made), not an error.
* A filter's number (`?version=` in the cockpit, `?year=`) is a whole number within its
  range, or the page refuses it; missing means "any".
* A version that an address names (`/modeller/<key>?version=N`) and that does not exist is
  404 "there is no version N of <key>" — also when N is no number at all, or too large.
* An id in a path (`/arenden/<int:id>`) is at most `MAX_ID`: ids are 32-bit in every
  database Kedja runs on, so a larger one names nothing and the route does not match (404),
  instead of reaching the database.

The REST API has its own readers with the same ranges (webui/api/parsing.py), answering
with problem details instead of a page.
"""

from __future__ import annotations

from typing import NoReturn

from flask import Flask, abort, make_response, render_template, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
"""The largest id or version number any table holds (32-bit integer columns)."""
MAX_PAGE = 1_000_000
"""No list has a million pages; the offset it gives stays far inside SQL's integers."""
_MAX_DIGITS = 12  # longer than any number in range; longer text is refused unread


def refuse(message: str, status: int = 400) -> NoReturn:
    """Answer with `status` and a page that says `message` (and nothing else happens)."""
    page = render_template("bad_argument.html", message=message, status=status)
    abort(make_response(page, status))


def _shown(raw: str) -> str:
    return raw if len(raw) <= 24 else raw[:24] + "…"


def _whole_number(raw: str) -> int | None:
    """`raw` as a whole number, or None; only ASCII digits (int() would also take '١٢',
    '+3', ' 4 ' and '1_000')."""
    if not raw or len(raw) > _MAX_DIGITS or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def number(name: str, minimum: int, maximum: int) -> int | None:
    """The query argument `name` as a whole number from `minimum` to `maximum`; None when
    it is missing or empty; anything else refused with 400."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = _whole_number(raw.strip())
    if value is None or not minimum <= value <= maximum:
        refuse(
            _(
                "Adressens %(name)s=%(value)s går inte att använda: det ska vara ett heltal "
                "från %(minimum)s till %(maximum)s.",
                name=name,
                value=_shown(raw),
                minimum=minimum,
                maximum=maximum,
            )
        )
    return value


def page(name: str = "sida") -> int:
    """The page number of a list (1 when missing)."""
    value = number(name, 1, MAX_PAGE)
    return 1 if value is None else value


def pages(total: int, size: int) -> int:
    """How many pages a list of `total` rows has, `size` to a page (at least one)."""
    return max(1, -(-total // size))


def version_value(raw: object, key: str) -> int | None:
    """The version of process `key` that an address names (in the query string, a form
    field or a JSON body); None when none is named. Anything that cannot be one of its
    versions — not a whole number, or too large to exist — is 404 "there is no version …
    of key", as a version that is not deployed is (`no_such_version`)."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        return None
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        value = _whole_number(raw.strip())
    if value is None or not 1 <= value <= MAX_ID:
        no_such_version(key, _shown(str(raw)))
    return value


def no_such_version(key: str, version: int | str) -> NoReturn:
    refuse(
        _("Det finns ingen version %(version)s av %(key)s.", version=version, key=key),
        404,
    )


class BoundedInt(IntegerConverter):
    """`<int:…>` in routes, matching only numbers up to `MAX_ID` (larger: no route, 404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any route is added: every `<int:…>` in the app is bounded."""
    app.url_map.converters["int"] = BoundedInt
