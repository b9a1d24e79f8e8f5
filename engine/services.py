"""Service tasks: host functions a diagram calls by name.

A service task names an operator (`spiffworkflow:serviceTaskOperator id="…"`) and passes
parameters, each an expression evaluated on the task's data in the sandbox. The host
registers one plain function per operator name. The function runs inside the step's
transaction and gets it through `ServiceCall.sql`: what it writes commits or rolls back with
the step, so a decision record registered by a service task exists exactly when the step that
registered it does. Its result (a JSON-ready dict) goes to the task's result variable.

Why not script globals: a script can call a host function too, but a script cannot be told
apart from code at deploy, while an operator name can be checked against what is registered
(an unknown operator is refused at deploy, naming the element), and the parameters are
visible in the modeller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .context_binding import Binding

if TYPE_CHECKING:
    from .step_sql import Tx
    from .steps import StepContext


_current: ContextVar[StepContext | None] = ContextVar("kedja_step", default=None)


def step_in_progress(ctx: StepContext) -> Binding[StepContext | None]:
    """Make the running step visible to service calls made while it advances
    (`with step_in_progress(ctx):`)."""
    return Binding(_current, ctx)


@dataclass
class ServiceCall:
    """What a service function gets: its parameters, the task's data and the step."""

    operator: str
    params: dict[str, Any]
    data: Mapping[str, Any]
    element_id: str
    step: StepContext

    @property
    def sql(self) -> Tx:
        """The step's open transaction (hand-written SQL with `:name` placeholders)."""
        return self.step.sql

    @property
    def instance_id(self) -> int:
        return self.step.instance.id

    @property
    def definition(self) -> Any:
        """The running definition (`key`, `version`, `id`)."""
        return self.step.definition

    @property
    def now(self) -> datetime:
        return self.step.now

    @property
    def actor_id(self) -> str:
        return self.step.actor.id

    def record(self, kind: str, data: dict[str, Any] | None = None) -> None:
        """Add an event to the instance's hash-chained history, in this step."""
        self.step.record(kind, data, element_id=self.element_id, actor="engine")


Service = Callable[[ServiceCall], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Parameters:
    """The parameters a service takes, by name: those it cannot do without, and the rest."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def problems(self, given: set[str]) -> list[tuple[str, str]]:
        """(what is wrong, what to do) for a service task passing `given`."""
        found = []
        takes = self.describe()
        for name in self.required:
            if name not in given:
                found.append((f"it leaves out parameter {name!r}", f"Add it; {takes}"))
        for name in sorted(given - set(self.required) - set(self.optional)):
            found.append(
                (
                    f"it passes parameter {name!r}, which the operator does not take",
                    f"Remove it or correct its name; {takes}",
                )
            )
        return found

    def describe(self) -> str:
        if not self.required and not self.optional:
            return "the operator takes no parameters"
        parts = []
        if self.required:
            parts.append("it needs " + ", ".join(self.required))
        if self.optional:
            parts.append(
                ("and may take " if self.required else "it may take ") + ", ".join(self.optional)
            )
        return " ".join(parts)


def takes(*required: str, optional: tuple[str, ...] = ()) -> Callable[[Service], Service]:
    """Declare a service's parameters (`@takes("year", optional=("winner",))`).

    Why: a parameter is an expression in the diagram, and a misspelt or forgotten one would
    otherwise surface only when a case reaches the task, months later, as an incident. With
    the declaration the deploy refuses the diagram, naming the element, and the modeller
    offers the names. A service without a declaration is not checked."""

    def declare(service: Service) -> Service:
        service.kedja_parameters = Parameters(tuple(required), tuple(optional))  # type: ignore[attr-defined]
        return service

    return declare


def privileged(what: str) -> Callable[[Service], Service]:
    """Declare that a service exercises power a diagram alone must not hand out
    (`@privileged("grants roles")`): role grants, decisions, notifications to many, erasure,
    publication.

    Why: a diagram is code a process owner writes, and a process owner is trusted to change
    how work flows, not who holds power. A version that calls a privileged service therefore
    runs only once an administrator has approved it (engine/approvals.py), and the call
    itself checks the approval again. `what` is shown to the administrator who approves."""

    def declare(service: Service) -> Service:
        service.kedja_privilege = what  # type: ignore[attr-defined]
        return service

    return declare


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"a service result holds a {type(value).__name__}, which is not JSON")


class Services:
    """The operators a diagram may call, by name."""

    def __init__(self, services: Mapping[str, Service] | None = None) -> None:
        self._services: dict[str, Service] = dict(services or {})

    def names(self) -> frozenset[str]:
        return frozenset(self._services)

    def parameters(self, name: str) -> Parameters | None:
        """What the operator declared it takes (`takes`); None when it declared nothing."""
        return getattr(self._services.get(name), "kedja_parameters", None)

    def privilege(self, name: str) -> str | None:
        """What power the operator exercises (`privileged`); None for an ordinary one."""
        return getattr(self._services.get(name), "kedja_privilege", None)

    def register(self, name: str, service: Service) -> None:
        self._services[name] = service

    def call(self, task: Any, operator: str, params: dict[str, Any]) -> str:
        """Run the operator for `task`; returns the result as JSON text (SpiffWorkflow's
        service task parses it back into the result variable)."""
        service = self._services.get(operator)
        if service is None:
            known = ", ".join(sorted(self._services)) or "none"
            raise LookupError(
                f"no service operator named {operator!r} is registered (known: {known})"
            )
        declared = self.parameters(operator)
        missing = [n for n in declared.required if n not in params] if declared else []
        if missing:  # a diagram deployed before the declaration, or bypassing the checks
            raise LookupError(
                f"service operator {operator!r} was called without {', '.join(missing)}; "
                f"{declared.describe()}"
            )
        step = _current.get()
        if step is None:
            raise RuntimeError(f"service operator {operator!r} was called outside an engine step")
        privilege = self.privilege(operator)
        if privilege is not None and not _approved(step):
            raise PermissionError(
                f"service operator {operator!r} ({privilege}) may run only in an approved "
                f"version, and version {step.definition.version} of "
                f"'{step.definition.key}' is not approved; an administrator approves it "
                "under Administration > Godkännanden (or `kedja approve`)"
            )
        spec = task.task_spec
        call = ServiceCall(operator, params, task.data, spec.bpmn_id or spec.name, step)
        return json.dumps(service(call) or {}, default=_json_default)


RUNNABLE = ("not_needed", "approved")
"""Approval states of a definition that may run (engine/approvals.py)."""


def _approved(step: StepContext) -> bool:
    """Read in the step's own transaction, never from a cache: an approval given by another
    process a moment ago counts, and a row changed behind the engine's back does too."""
    row = step.sql.one(
        "SELECT approval FROM process_definition WHERE id = :id", {"id": step.definition.id}
    )
    return row is not None and row[0] in RUNNABLE
