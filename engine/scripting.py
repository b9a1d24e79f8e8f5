"""The sandbox that runs the Python in uploaded BPMN: scripts, conditions and expressions.

Why: a deployed diagram is code. Its script tasks, gateway conditions and DMN cells are run by
the engine with the engine's own privileges, so whoever may upload a diagram could otherwise
read files, open sockets or take over the server. SpiffWorkflow's default environment is a plain
``exec``/``eval`` with every builtin, so Kedja replaces it with RestrictedPython: the source is
compiled by RestrictedPython's policy (which rewrites attribute, item and iteration access into
guarded calls) and runs with a small set of builtins.

What a process owner may write: task data as variables; arithmetic, strings and their methods;
lists, dicts, sets and tuples (building, item assignment, comprehensions, ``for a, b in ...``,
``x += 1``); ``if``/``for``/``while``/``def``/``lambda``/``try``; the builtins ``len min max sum
sorted any all enumerate zip range list dict set tuple str int float bool round abs isinstance
map filter reversed`` and a few more; ``datetime date timedelta timezone Decimal math``; and any
function the host adds (``make_script_engine(extra_globals=...)``). ``print`` is accepted and
its output discarded.

What is refused: ``import``, class definitions, any name or attribute starting with ``_``
(``__class__``, ``__globals__``, ``__dict__``...), ``eval``/``exec``/``compile``, ``open``,
``getattr``/``type``/``globals``/``vars``/``dir`` and ``str.format`` (its ``{0.__class__}``
fields reach private attributes; use f-strings) and ``d[k] += 1`` (write ``d[k] = d[k] + 1``).
Most of these are caught at compile time, so `check_source` rejects them at deploy, before
anything runs. The sandbox limits what a script can reach, not how long it runs or how much
memory it takes.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from RestrictedPython import (
    CompileResult,
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import WorkflowException

from engine.errors import ScriptError
from engine.sandbox_names import BUILTINS, GUARDS, REFUSED_NAMES, SAFE_GLOBALS
from engine.services import Services

__all__ = [
    "KedjaScriptEngine",
    "RestrictedEnvironment",
    "SandboxViolation",
    "check_source",
    "make_script_engine",
]


class _KedjaPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: no imports, classes, refused builtins or str.format."""

    def visit_Import(self, node: Any) -> Any:
        self.error(node, "Imports are not allowed in Kedja scripts")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node: Any) -> Any:
        self.error(node, "Class definitions are not allowed in Kedja scripts")
        return node

    def visit_Call(self, node: Any) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in REFUSED_NAMES:
            self.error(node, f"'{node.func.id}' is not available in Kedja scripts")
        return super().visit_Call(node)

    def visit_Attribute(self, node: Any) -> Any:
        if node.attr in ("format", "format_map"):
            self.error(node, f"str.{node.attr}() is not allowed in Kedja scripts, use an f-string")
        return super().visit_Attribute(node)


MAX_SOURCE_CHARS = 20_000
"""Longest script, condition or expression text the sandbox compiles (the city's longest script
is about 1,300 characters). Longer work belongs in a service task operator; the limit also
keeps a diagram from making the compiler build an enormous tree."""
_MAX_MESSAGE_CHARS = 300  # RestrictedPython quotes the whole failing statement in its message
TOO_LONG = "too long"
TOO_DEEP = "nested too deeply"


def _refused(message: str) -> CompileResult:
    return CompileResult(None, (f"Line 1: {message}",), [], {})


def _compile(source: str, mode: str) -> CompileResult:
    """Compile `source` under the sandbox's policy; every failure is a CompileResult's error.

    Python's parser and compiler recurse once per nesting level: `x = ---…1` (100,000 signs)
    or `1+1+…` (200,000 terms) raise MemoryError or RecursionError (past about 250 levels)
    rather than a SyntaxError, and a NUL byte raises ValueError. Those become errors here,
    so a deploy reports them against the element and a run refuses them like any rule.
    Over-long text is refused before it reaches the cache, which would otherwise keep it;
    these refusals are not cached either (how deep Python gets depends on the caller's stack).
    """
    if mode not in ("exec", "eval"):
        raise ValueError(f"mode must be 'exec' or 'eval', not {mode!r}")
    if len(source) > MAX_SOURCE_CHARS:
        return _refused(
            f"{TOO_LONG}: {len(source):,} characters, at most {MAX_SOURCE_CHARS:,} are allowed"
        )
    try:
        return _compile_cached(source, mode)
    except (RecursionError, MemoryError) as err:
        return _refused(f"{TOO_DEEP} for Python to compile ({type(err).__name__})")
    except ValueError as err:  # "source code string cannot contain null bytes" (Python < 3.12)
        return _refused(f"cannot be compiled: {err}")


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str, mode: str) -> CompileResult:
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    # Diagrams indent their text: "\n      amount > 10\n    " is a fine condition.
    source = source.strip() if mode == "eval" else textwrap.dedent(source)
    # Filename '<string>' lets SpiffWorkflow find the failing line in the traceback.
    result = compiler(source, "<string>", policy=_KedjaPolicy)
    errors = tuple(
        e if len(e) <= _MAX_MESSAGE_CHARS else e[: _MAX_MESSAGE_CHARS - 1] + "…"
        for e in result.errors
    )
    return result._replace(errors=errors)


def check_source(source: str, mode: str) -> list[str]:
    """Compile-only check for deploy: the messages of every rule `source` breaks, or []."""
    return list(_compile(source, mode).errors)


class SandboxViolation(ScriptError, SyntaxError):
    """Source that breaks a sandbox rule. A SyntaxError too, so SpiffWorkflow fills in
    ``line_number`` and ``error_line`` of the WorkflowTaskException it wraps this in."""

    __str__ = Exception.__str__

    def __init__(self, errors: Sequence[str]) -> None:
        rules = "; ".join(error.rstrip(".") for error in errors)
        super().__init__(f"Refused by the Kedja script sandbox: {rules}")
        line = re.match(r"Line (\d+):", errors[0])
        self.msg, self.lineno = self.args[0], int(line.group(1)) if line else 0


def _code(source: str, mode: str) -> Any:
    result = _compile(source, mode)
    if result.errors:
        raise SandboxViolation(result.errors)
    return result.code


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's TaskDataEnvironment semantics, with RestrictedPython compiling the code.

    Task data are the script's variables; after `execute`, what the script assigned stays in
    the task data, and the script's own functions are removed again.

    Two namespaces, so that no field name can break a script: the sandbox's helpers (`date`,
    `math`, the host's functions) are *builtins* of the script, and process data are its
    *variables*. Python looks a name up in the variables first and in the builtins last, so a
    form field called `date` is simply a variable called `date` in the scripts of its
    instance: it never collides with anything, and the helpers are never copied into (nor
    deleted from) the task data. SpiffWorkflow's own environment puts both in one namespace
    and refuses data whose name is a helper's, which let one stray field stop every script of
    a case (docs/decisions.md).
    """

    def __init__(self, environment_globals: dict[str, Any] | None = None) -> None:
        super().__init__({})
        self.helpers: dict[str, Any] = {**SAFE_GLOBALS, **(environment_globals or {})}
        self._guards = {**GUARDS, "__builtins__": {**BUILTINS, **self.helpers}}

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        namespace = {**(external_context or {}), **context, **self._guards}
        return eval(_code(expression, "eval"), namespace)  # noqa: S307 - restricted, guarded

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        code = _code(script, "exec")
        context.update({**external_context, **self._guards})
        try:
            exec(code, context)  # noqa: S102 - restricted code, guarded namespace
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _remove_globals_and_functions_from_context(
        self, context: dict, external_context: dict | None = None
    ) -> None:
        drop = {*self._guards, *(external_context or {})}
        for key in [k for k, v in context.items() if k in drop or callable(v)]:
            del context[key]

    def check_for_overwrite(self, context: dict, external_context: dict) -> None:
        """Data objects (`external_context`) and task data are both process data: one name
        in both is a real ambiguity, so it is refused. Helpers cannot clash (see above)."""
        clash = set(external_context).intersection(context)
        if clash:
            raise ValueError(
                "The task data and the process's data objects both hold "
                f"{', '.join(sorted(clash))}; rename the data object or the field."
            )


class KedjaScriptEngine(PythonScriptEngine):
    services: Services

    """PythonScriptEngine whose errors say, in their text, which element failed and why.

    SpiffWorkflow's WorkflowTaskException names the element only in attributes
    (``exc.task_spec.bpmn_id`` / ``.bpmn_name``), and for expressions drops the cause's message.
    """

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowException as err:
            _explain(err, task)
            raise

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> Any:
        try:
            return super().execute(task, script, external_context)
        except WorkflowException as err:
            _explain(err, task)
            raise

    def call_service(
        self, task: Any, operation_name: str, operation_params: dict[str, Any], **_: Any
    ) -> str:
        """Run a registered service operator (SpiffWorkflow's own version of this method
        fails with a NameError on any error)."""
        params = {name: spec["value"] for name, spec in operation_params.items()}
        try:
            return self.services.call(task, operation_name, params)
        except WorkflowException as err:
            _explain(err, task)
            raise
        except Exception as exc:
            err = WorkflowTaskException(f"Service '{operation_name}' failed: {exc}", task, exc)
            _explain(err, task)
            raise err from exc


def _explain(err: WorkflowException, task: Any) -> None:
    """Add the cause and the element to the message, once; also set ``err.element``."""
    if getattr(err, "element", None) is not None:
        return
    spec = err.task_spec or task.task_spec
    err.element = getattr(spec, "bpmn_id", None) or spec.name
    cause = err.__context__
    if cause and not isinstance(cause, WorkflowException) and str(cause) not in str(err):
        err.add_note(f"{type(cause).__name__}: {cause}")
    name = getattr(spec, "bpmn_name", None)
    err.add_note(f"In element '{err.element}'" + (f" ('{name}')" if name else ""))


def make_script_engine(
    extra_globals: dict[str, Any] | None = None, services: Services | None = None
) -> PythonScriptEngine:
    """The script engine for Kedja workflows; `extra_globals` adds host functions scripts may
    call, `services` the operators service tasks may call.

    Host functions run unsandboxed: they must only take and return plain data.
    """
    engine = KedjaScriptEngine(environment=RestrictedEnvironment(extra_globals))
    engine.services = services or Services()
    return engine
