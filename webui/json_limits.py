"""JSON from outside, parsed with a limit on how deeply it nests.

Python's `json.loads` (and jsonschema after it) recurses once per level of nesting: a
request body of 5,000 nested arrays — a few kilobytes — raised RecursionError, a 500, in
every place that parsed one. So every JSON text that comes from a request (the REST API's
bodies, `request.get_json` anywhere in the web UI through the app's JSON provider, the
CLI's `--data`) is first measured on its raw text, without recursion, and refused when it
nests deeper than `MAX_DEPTH` levels; only then is it parsed.

The measurement runs in C-implemented byte operations (no Python loop per character):
escaped backslashes and quotes are removed, every byte but brackets and quotes is deleted,
empty strings are dropped, and what lies between quotes (string contents) is cut away;
what is left is the brackets outside strings, whose running sum is the depth. Most bodies
skip even that: with no more than `MAX_DEPTH` opening brackets in all, a body cannot nest
deeper. A RecursionError from the parser is still caught as a last guard.
"""

from __future__ import annotations

import array
import json
from itertools import accumulate
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 64
"""Arrays and objects inside each other, the outermost counting as 1. The deepest form data
the city's forms produce is 4 (the body, `data`, a table, a row); 64 leaves room for any
form and is far below the depth at which parsing or validating recurses too deep."""

_KEEP = b'[]{}"'
_DELETE = bytes(b for b in range(256) if b not in _KEEP)
_SIGNS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # +1 / -1 as signed bytes


class TooDeep(ValueError):
    """The text nests deeper than the limit; nothing was parsed.

    A ValueError, so that code which treats any unparseable JSON as bad input (Flask's
    `request.get_json`) treats this as bad input too."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"The JSON is nested deeper than {limit} levels (arrays and objects inside each "
            f"other); Kedja accepts at most {limit}. Send flatter data."
        )


def depth(text: str | bytes) -> int:
    """How deeply the JSON text's arrays and objects nest (0 for a scalar). For text that
    is not valid JSON the number is only an estimate; the parser will refuse it anyway."""
    raw = _utf8(text)
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(None, _DELETE).replace(b'""', b"")
    outside_strings = b"".join(structure.split(b'"')[::2])
    return max(accumulate(array.array("b", outside_strings.translate(_SIGNS))), default=0)


def check_depth(text: str | bytes, limit: int = MAX_DEPTH) -> None:
    """Raise `TooDeep` if the text nests deeper than `limit`."""
    if isinstance(text, str):
        opening = text.count("[") + text.count("{")
    else:
        opening = text.count(b"[") + text.count(b"{")
    if opening > limit and depth(text) > limit:
        raise TooDeep(limit)


def loads(text: str | bytes, limit: int = MAX_DEPTH, **kwargs: Any) -> Any:
    """`json.loads`, after checking the depth; `TooDeep` (a ValueError) if too deep."""
    check_depth(text, limit)
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep(limit) from None


def _utf8(text: str | bytes) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(text)
    if encoding == "utf-8":
        return text
    return text.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with the depth limit on everything it parses, so that
    `request.get_json()` refuses a too-deep body as malformed (400, or None when silent)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


def init_app(app: Flask) -> None:
    provider = LimitedJSONProvider(app)
    provider.ensure_ascii = app.json.ensure_ascii  # type: ignore[attr-defined]
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider
