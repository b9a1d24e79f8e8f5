"""Regular expressions from form schemas, matched in bounded time with RE2.

Why: a form's JSON Schema is written by a process owner, and its `pattern`,
`patternProperties` and `format: regex` are matched against what people type. jsonschema
matches them with Python's backtracking `re`, where `"^(a+)+$"` against 28 characters took 28
seconds inside a completion step. Google's RE2 (the `google-re2` package) matches in time
linear in the input and has no backtracking at all; the price is that it refuses
backreferences (`\\1`) and lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`), which are exactly the
constructs that need backtracking. So:

* at deploy, `problems` names every pattern of a schema that RE2 cannot compile (the bundle
  refuses it, with the file, the JSON pointer and what to write instead);
* at run time, `extend` gives the jsonschema validator class RE2 versions of every keyword
  that matches a pattern (`pattern`, `patternProperties`, `additionalProperties`), and
  `format_checker` checks `format: regex` with RE2; a pattern RE2 cannot compile (a version
  deployed before this check) fails validation instead of falling back to `re`.

`unevaluatedProperties` is the one keyword whose pattern matching lives deep inside
jsonschema's own helpers; next to `patternProperties` it is refused at deploy and fails
validation at run time (a form lists its fields in `properties`, so nothing real needs both).

JSON Schema patterns are ECMA-262 and unanchored (search semantics, `^`/`$` anchor only where
written). RE2's syntax is close: `\\d`, `\\w`, `\\s` are ASCII as in ECMA-262, `$` matches only
at the very end, `(?<name>...)` works; ECMA's `\\uXXXX` and `\\u{...}` escapes are translated
to RE2's `\\x{...}` here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import FormatChecker, validators
from jsonschema.exceptions import ValidationError

from . import email_addresses

__all__ = [
    "UNSAFE",
    "PatternError",
    "extend",
    "format_checker",
    "matches",
    "problems",
    "search",
    "walk",
]

REWRITE_HINT = (
    "Kedja matches patterns with RE2, which has no backreferences (\\1) and no lookaround "
    "((?=, (?!, (?<=, (?<!) and at most 1000 repetitions: rewrite the pattern without them "
    "(e.g. list the alternatives), or check the value in a script task after the form"
)
COMBINATION_HINT = (
    "List the form's fields in properties, or use additionalProperties next to "
    "patternProperties instead of unevaluatedProperties"
)

# Keywords whose value is data, not a schema: a "pattern" key inside them is no keyword.
_DATA_KEYWORDS = frozenset(("enum", "const", "default", "examples"))
# Keywords whose value maps names to schemas: the names are not keywords.
_SCHEMA_MAPS = frozenset(
    ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")
)
# An escaped backslash, or ECMA-262's \uXXXX / \u{X...}: scanned left to right, so "\\u0041"
# (an escaped backslash, then "u0041") is left alone.
_ECMA_ESCAPE = re.compile(r"\\\\|\\u([0-9A-Fa-f]{4})|\\u\{([0-9A-Fa-f]{1,6})\}")


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message says why, in RE2's words."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    return options


_OPTIONS = _options()


def _to_re2(pattern: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1) or match.group(2)
        return match.group(0) if code is None else "\\x{" + code + "}"

    return _ECMA_ESCAPE.sub(replace, pattern)


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    try:
        return re2.compile(_to_re2(pattern), _OPTIONS)
    except re2.error as err:
        reason = err.args[0] if err.args else str(err)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


def compile_error(pattern: str) -> str | None:
    """Why RE2 cannot compile `pattern`, or None if it can."""
    try:
        _compiled(pattern)
    except PatternError as err:
        return str(err)
    return None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches anywhere in `text` (JSON Schema's semantics), in linear time.

    Raises PatternError if RE2 cannot compile the pattern. Text is matched as UTF-8; a lone
    surrogate (JSON allows "\\ud800") is passed through as bytes rather than failing.
    """
    return _compiled(pattern).search(text.encode("utf-8", "surrogatepass")) is not None


def matches(pattern: str, text: str) -> bool:
    """`search`, but a pattern RE2 cannot compile matches nothing (for callers that decide
    what a form declares, where "not declared" is the safe answer)."""
    try:
        return search(pattern, text)
    except PatternError:
        return False


# -- deploy -----------------------------------------------------------------------------------


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def walk(schema: Any, pointer: str = "") -> Iterator[tuple[str, str, Any]]:
    """(JSON pointer, keyword, value) of every pattern keyword in a schema document.

    Yields `pattern` (pointer to the keyword), each `patternProperties` name (pointer to that
    name) and `unevaluatedProperties`. Every subschema is visited, also under keywords Kedja
    does not know (a `$ref` may point there); data under enum/const/default/examples is not.
    Iterative, so a deep document cannot exhaust the stack.
    """
    stack: list[tuple[Any, str]] = [(schema, pointer)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, list):
            stack.extend((item, f"{where}/{i}") for i, item in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("pattern"), str):
            yield f"{where}/pattern", "pattern", node["pattern"]
        if isinstance(node.get("patternProperties"), dict):
            for name in node["patternProperties"]:
                yield f"{where}/patternProperties/{_escape(name)}", "patternProperties", name
        if "unevaluatedProperties" in node:
            yield f"{where}/unevaluatedProperties", "unevaluatedProperties", None
        children: list[tuple[Any, str]] = []
        for key, value in node.items():
            here = f"{where}/{_escape(str(key))}"
            if key in _DATA_KEYWORDS:
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                children.extend((sub, f"{here}/{_escape(str(n))}") for n, sub in value.items())
            elif isinstance(value, dict | list):
                children.append((value, here))
        stack.extend(reversed(children))


def problems(schema: Any) -> list[tuple[str, str, str]]:
    """(pointer, message, hint) for every pattern of `schema` that cannot be checked safely."""
    found: list[tuple[str, str, str]] = []
    pattern_properties = unevaluated = None
    for pointer, keyword, value in walk(schema):
        if keyword == "unevaluatedProperties":
            unevaluated = unevaluated or pointer
            continue
        if keyword == "patternProperties":
            pattern_properties = pattern_properties or pointer
        error = compile_error(value)
        if error is not None:
            what = "pattern" if keyword == "pattern" else "patternProperties name"
            found.append(
                (pointer, f"the {what} {value!r} cannot be matched safely: {error}", REWRITE_HINT)
            )
    if unevaluated and pattern_properties:
        found.append(
            (
                unevaluated,
                "unevaluatedProperties in a schema with patternProperties "
                f"({pattern_properties}) cannot be checked in bounded time",
                COMBINATION_HINT,
            )
        )
    return found


# -- run time ---------------------------------------------------------------------------------


UNSAFE = "kedja:unsafe-pattern"
"""The `validator` of an error that says the form itself cannot be checked, not the value."""


def _unsafe(pattern: str, reason: str) -> ValidationError:
    return ValidationError(
        f"the form's pattern {pattern!r} cannot be checked safely ({reason})", validator=UNSAFE
    )


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = search(pattern, instance)
    except PatternError as err:
        yield _unsafe(pattern, str(err))
        return
    if not matched:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in value.items():
        try:
            names = [k for k in instance if search(pattern, k)]
        except PatternError as err:
            yield _unsafe(pattern, str(err))
            continue
        for name in names:
            yield from validator.descend(instance[name], subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's additionalProperties, with its patternProperties lookup done by RE2."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for pattern in patterns:
        if (error := compile_error(pattern)) is not None:
            yield _unsafe(pattern, error)
            return
    extras = [
        name
        for name in instance
        if name not in properties and not any(search(p, name) for p in patterns)
    ]
    if validator.is_type(value, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], value, path=extra)
    elif not value and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            listed = ", ".join(repr(each) for each in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            names = ", ".join(repr(each) for each in sorted(extras, key=str))
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({names} {verb} unexpected)"
            )


def _unevaluated_refused(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "object"):
        yield ValidationError(
            "unevaluatedProperties next to patternProperties cannot be checked in bounded time",
            validator=UNSAFE,
        )


@functools.lru_cache(maxsize=32)
def _extended(base: type, refuse_unevaluated: bool) -> type:
    own = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    if refuse_unevaluated:
        own["unevaluatedProperties"] = _unevaluated_refused
    keywords = {k: v for k, v in own.items() if k in base.VALIDATORS}
    return validators.extend(base, keywords)


def extend(base: type, schema: Any) -> type:
    """`base` (a jsonschema validator class) matching every pattern of `schema` with RE2."""
    seen = {keyword for _, keyword, _ in walk(schema)}
    return _extended(base, {"patternProperties", "unevaluatedProperties"} <= seen)


def _is_regex(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    _compiled(instance)  # raises PatternError, which the checker reports as "not a 'regex'"
    return True


def format_checker() -> FormatChecker:
    """jsonschema's format checker, with `format: regex` meaning "RE2 can compile it" and
    `format: email` meaning a plain address (engine/email_addresses.py; jsonschema's own
    check only wants an "@")."""
    checker = FormatChecker()
    checker.checks("regex", raises=PatternError)(_is_regex)
    checker.checks("email", raises=email_addresses.InvalidAddress)(_is_plain_address)
    return checker


def _is_plain_address(instance: object) -> bool:
    if not isinstance(instance, str):
        return True  # `type` says what is wrong with a non-string
    email_addresses.normalise(instance)
    return True
