"""What a person may write into a case: the fields their form declares, and nothing else.

A task's JSON Schema is the contract of its completion for every entry point alike (the web
page, the REST API, the command line): a property the schema does not declare is refused,
and so is a change to a property it declares `readOnly`. JSON Schema alone does not say this
(an undeclared property is allowed unless the schema says `additionalProperties: false`, and
`readOnly` is only an annotation), and process data is where a case keeps what decides its
path (`organisation`, `is_district`): one extra field in a completion could hand a role to
the wrong organisation or skip a review.

Rules, in order of the tree:

* At the top level only the properties the schema declares are accepted, whatever it says of
  `additionalProperties`: every top-level key becomes a process variable.
* A nested object accepts its declared properties; it is open only where the process owner
  declared so explicitly (`additionalProperties` a schema or `true`) or a `patternProperties`
  pattern matches. An object schema declaring no properties at all (a free-form object) takes
  any keys: the field itself is what is declared.
* Declarations spread over `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else`, `dependentSchemas`
  and `dependencies` count (react-jsonschema-form forms declare conditional fields that way);
  local `$ref`s are followed.
* A `readOnly` property may be left out, or sent with the value the task already holds (the
  web form sends a row's read-only cells back with it); any other value is refused. Array rows
  are compared by position.

The checks return `Problem`s naming each field by its JSON pointer, as `forms.validate` does,
so every entry point reports them beside the field (HTTP 422, exit code 3).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import form_patterns, forms
from .errors import Problem, ValidationError

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
_MAX_DEPTH = 64  # of schema references and nesting followed; deeper is not a form
_COMBINATORS = ("allOf", "anyOf", "oneOf")
_CONDITIONALS = ("if", "then", "else")

PatternMatcher = Callable[[str, str], bool]
"""(pattern, text) -> whether the pattern matches somewhere in the text (JSON Schema's
unanchored semantics); given by the caller so that patterns run in the same bounded-time regex
engine as form validation."""


def problems(
    schema: Mapping[str, Any],
    data: Any,
    current: Any,
    form_name: str,
    matches: PatternMatcher,
) -> list[Problem]:
    """Every field of `data` the form does not let the person set, given what the task holds
    now (`current`, the task's data)."""
    if not isinstance(data, Mapping):
        return []  # the schema's own validation says what is wrong with the shape
    checker = _Checker(schema, form_name, matches)
    checker.object(schema, data, current if isinstance(current, Mapping) else {}, "", top=True)
    return checker.found


def admit(
    schema_text: str | None,
    form_name: str | None,
    data: Mapping[str, Any],
    current: Any,
    what: str,
    summary: str,
    validate: bool = True,
) -> None:
    """The gate a person's data passes before it reaches a case: only the fields the form
    lets them set (or none, without a form), then (`validate`; not for a draft, which may be
    half-filled) the form's JSON Schema. Raises `ValidationError` starting with `summary`;
    nothing has been changed when it does."""
    if schema_text is None or form_name is None:
        found = no_data_problems(data, what)
    else:
        schema = _parsed(schema_text)
        found = problems(schema, data, current, form_name, form_patterns.matches)
    if found:
        raise ValidationError(
            f"{summary} takes only the fields of its form: {len(found)} problem(s); "
            "nothing was saved.",
            found,
        )
    if validate and schema_text is not None and form_name is not None:
        forms.validate(schema_text, data, form_name)


@functools.lru_cache(maxsize=256)
def _parsed(schema_text: str) -> Any:
    """A form's schema, parsed once (deployed forms never change; the checker only reads it)."""
    return json.loads(schema_text)


def no_data_problems(data: Mapping[str, Any], what: str) -> list[Problem]:
    """A task (or a process start) that declares no form takes no data."""
    return [
        Problem(
            f"'{key}' cannot be set: {what} has no form, so it takes no data",
            element=_join("", key),
            hint="send no data, or give the element a form (formJsonSchemaFilename) "
            "declaring the fields it takes",
        )
        for key in sorted(data)
    ]


class _Checker:
    def __init__(self, root: Mapping[str, Any], form_name: str, matches: PatternMatcher) -> None:
        self.root = root
        self.form_name = form_name
        self.matches = matches
        self.found: list[Problem] = []

    def _add(self, problem: Problem) -> None:
        """Once per field: a property declared in two branches is checked under both."""
        if all(p.element != problem.element for p in self.found):
            self.found.append(problem)

    # -- walking the data beside the schema -------------------------------------------------

    def value(self, schema: Any, value: Any, current: Any, pointer: str, depth: int) -> None:
        if depth > _MAX_DEPTH or not isinstance(schema, Mapping):
            return
        parts = list(self._parts(schema, depth))
        if any(p.get("readOnly") is True for p in parts):
            if _normal(value) != _normal(current):
                self._add(
                    Problem(
                        f"'{_name(pointer)}' is read-only in this form",
                        file=self.form_name,
                        element=pointer,
                        hint="leave it out or send the value the task shows; the process sets it",
                    )
                )
            return
        if isinstance(value, Mapping):
            was = current if isinstance(current, Mapping) else {}
            self.object(schema, value, was, pointer, depth=depth)
        elif isinstance(value, list):
            self.array(parts, value, current if isinstance(current, list) else [], pointer, depth)

    def object(
        self,
        schema: Mapping[str, Any],
        value: Mapping[str, Any],
        current: Mapping[str, Any],
        pointer: str,
        top: bool = False,
        depth: int = 0,
    ) -> None:
        parts = list(self._parts(schema, depth))
        declared: dict[str, list[Any]] = {}
        for part in parts:
            properties = part.get("properties")
            if isinstance(properties, Mapping):
                for name, sub in properties.items():
                    declared.setdefault(name, []).append(sub)
        if not top and not declared and not any(_declares_keys(p) for p in parts):
            return  # a free-form object: the field itself is what the form declares
        for key, item in value.items():
            here = _join(pointer, key)
            subs = declared.get(key) or ([] if top else self._open_for(parts, key))
            if not subs:
                self._add(self._undeclared(key, here, declared, top))
                continue
            for sub in subs:
                self.value(sub, item, current.get(key, MISSING), here, depth + 1)

    def array(
        self,
        parts: list[Mapping[str, Any]],
        value: list[Any],
        current: list[Any],
        pointer: str,
        depth: int,
    ) -> None:
        for index, item in enumerate(value):
            was = current[index] if index < len(current) else MISSING
            for part in parts:
                prefix = part.get("prefixItems")
                if isinstance(prefix, list) and index < len(prefix):
                    sub = prefix[index]
                else:
                    sub = part.get("items")
                if isinstance(sub, Mapping):
                    self.value(sub, item, was, _join(pointer, index), depth + 1)

    # -- what a schema declares ---------------------------------------------------------------

    def _parts(self, schema: Mapping[str, Any], depth: int) -> Iterator[Mapping[str, Any]]:
        """The schema and every subschema that applies at the same place in the data."""
        stack: list[tuple[Any, int]] = [(schema, depth)]
        seen = 0
        while stack and seen < 256:
            part, level = stack.pop()
            if not isinstance(part, Mapping) or level > _MAX_DEPTH:
                continue
            seen += 1
            ref = part.get("$ref")
            if isinstance(ref, str):
                target = self._resolve(ref)
                if target is not None:
                    stack.append((target, level + 1))
            yield part
            for key in _COMBINATORS:
                branches = part.get(key)
                if isinstance(branches, list):
                    stack.extend((b, level + 1) for b in branches)
            for key in _CONDITIONALS:
                if key in part:
                    stack.append((part[key], level + 1))
            for key in ("dependentSchemas", "dependencies"):
                deps = part.get(key)
                if isinstance(deps, Mapping):
                    stack.extend((d, level + 1) for d in deps.values() if isinstance(d, Mapping))

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return None  # only references inside the form itself are followed
        node: Any = self.root
        for raw in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def _open_for(self, parts: list[Mapping[str, Any]], key: str) -> list[Any]:
        """The schemas an undeclared key of a nested object falls under, if it is open."""
        subs: list[Any] = []
        for part in parts:
            patterns = part.get("patternProperties")
            if isinstance(patterns, Mapping):
                subs += [s for p, s in patterns.items() if self.matches(p, key)]
            extra = part.get("additionalProperties")
            if extra is True or isinstance(extra, Mapping):
                subs.append(extra if isinstance(extra, Mapping) else {})
        return subs

    def _undeclared(
        self, key: str, pointer: str, declared: Mapping[str, Any], top: bool
    ) -> Problem:
        names = ", ".join(sorted(declared)) or "none"
        parents = [p for p in pointer.split("/")[1:-1] if not p.isdigit()]
        where = "this form" if top or not parents else f"'{_name('/' + parents[-1])}'"
        return Problem(
            f"'{key}' is not a field of {where}",
            file=self.form_name,
            element=pointer,
            hint=f"remove it; the fields are: {names}",
        )


def _declares_keys(part: Mapping[str, Any]) -> bool:
    return any(k in part for k in ("properties", "patternProperties", "additionalProperties"))


def _normal(value: Any) -> Any:
    """A value as JSON would carry it: a date the process set equals its ISO text, and so
    does the `{"typename": "date", "value": …}` form the API hands out for it."""
    if value is MISSING:
        return MISSING
    return json.loads(json.dumps(value, default=_iso), object_hook=_untyped)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _untyped(obj: dict[str, Any]) -> Any:
    if set(obj) == {"typename", "value"} and obj["typename"] in ("date", "datetime", "time"):
        return obj["value"]
    return obj


def _join(pointer: str, part: str | int) -> str:
    return pointer + "/" + str(part).replace("~", "~0").replace("/", "~1")


def _name(pointer: str) -> str:
    return pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
