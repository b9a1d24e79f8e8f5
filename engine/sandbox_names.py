"""What a script in a diagram can name: its builtins, the helpers, and the guards.

Two namespaces meet in a script (engine/scripting.py): the case's data are its variables, and
everything here is its builtins, which a variable of the same name shadows. `BUILTINS` is
RestrictedPython's safe set, less what could stop the host, plus the plain functions a
process owner needs; `SAFE_GLOBALS` the helpers (`date`, `math`, …); `REFUSED_NAMES` the
builtins whose call is refused at compile time; `GUARDS` what RestrictedPython's rewritten
code calls (attribute, item and iteration access, `x += 1`, `f(*a)`, `print`), applied
last so no data can replace them.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import math
import operator
from decimal import Decimal
from typing import Any

from RestrictedPython import PrintCollector, safe_builtins
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr_raise,
)

_EXTRA_BUILTINS = (
    "len",
    "min",
    "max",
    "sum",
    "sorted",
    "any",
    "all",
    "enumerate",
    "zip",
    "range",
    "list",
    "dict",
    "set",
    "frozenset",
    "tuple",
    "str",
    "int",
    "float",
    "bool",
    "round",
    "abs",
    "isinstance",
    "map",
    "filter",
    "reversed",
)
# Gone from RestrictedPython's safe_builtins: classes, and exceptions that would stop the host.
_DROPPED = {
    "__build_class__",
    "setattr",
    "delattr",
    "BaseException",
    "SystemExit",
    "KeyboardInterrupt",
    "GeneratorExit",
}
BUILTINS: dict[str, Any] = {k: v for k, v in safe_builtins.items() if k not in _DROPPED}
BUILTINS.update({name: getattr(builtins, name) for name in _EXTRA_BUILTINS})

SAFE_GLOBALS: dict[str, Any] = {
    "datetime": _dt.datetime,
    "date": _dt.date,
    "timedelta": _dt.timedelta,
    "timezone": _dt.timezone,
    "Decimal": Decimal,
    "math": math,
}
# Builtins left out on purpose. Calling one is refused at compile time: task data cannot hold
# functions, so such a call can only mean the builtin. (A bare `open` is a plain NameError.)
REFUSED_NAMES = frozenset(
    (
        "open",
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "globals",
        "locals",
        "vars",
        "dir",
        "type",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "bytearray",
        "object",
        "super",
        "property",
        "classmethod",
        "staticmethod",
        "exit",
        "quit",
        "format",
    )
)

_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "@=": operator.imatmul,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:  # x += 1: x = _inplacevar_("+=", x, 1)
    return _INPLACE[op](target, value)


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:  # f(*a, **kw): _apply_(f, *a, **kw)
    return func(*args, **kwargs)


# What RestrictedPython's rewritten code calls. Applied last, so task data cannot shadow them.
GUARDS: dict[str, Any] = {
    "__builtins__": BUILTINS,
    "_getattr_": safer_getattr_raise,  # no "_" names, no str.format; missing attribute raises
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,  # item assignment on dict/list only
    "_inplacevar_": _inplacevar,
    "_print_": PrintCollector,  # print() output is collected and dropped
    "_apply_": _apply,
}
