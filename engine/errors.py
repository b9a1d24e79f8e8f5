"""The errors the engine raises to its callers.

Every error carries a message a person can act on: what was wrong and what to do. Callers
(the CLI, the web UI, the REST API) map the classes to exit codes and HTTP statuses, so the
class says *what kind* of failure it was and the message says the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class KedjaError(Exception):
    """Base class: anything the engine reports deliberately (not a bug)."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a deployment bundle or a form submission.

    `file`, `element` and `line` locate it; `message` says what is wrong; `hint` says what to do.
    For form data, `element` is the JSON pointer of the field (``/rows/0/measure``).
    """

    message: str
    file: str | None = None
    element: str | None = None
    line: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file + (f":{self.line}" if self.line else ""))
        if self.element:
            where.append(f"element '{self.element}'")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f" — {self.hint}"
        return text

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ValidationError(KedjaError):
    """Input was rejected: a bundle that cannot be deployed, form data that does not validate.

    Nothing was stored. `problems` lists every problem found, not just the first, so a process
    owner can fix a diagram in one round.
    """

    summary: str
    problems: list[Problem] = field(default_factory=list)
    exit_code = 3

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.problems:
            return self.summary
        lines = [self.summary] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class Conflict(KedjaError):
    """Someone else changed the instance or task first; nothing of this call was written.

    The message names what changed (for example who completed the task) so the user can reload
    and decide, instead of silently overwriting another person's work.
    """

    exit_code = 4


class NotFound(KedjaError):
    """The definition, instance or task asked for does not exist."""

    exit_code = 1


class NotPermitted(KedjaError):
    """The actor may not do this (wrong role, organisation, or not the assignee)."""

    exit_code = 5


class InvalidState(Conflict):
    """The instance or task is in a state that does not allow the action (suspended, finished)."""


class ScriptError(KedjaError):
    """A script, condition or expression in a diagram failed or broke the sandbox rules.

    Raised at deploy (a forbidden construct) or at run time (recorded as an incident). The
    message names the element.
    """

    def __init__(self, message: str, element: str | None = None) -> None:
        self.element = element
        super().__init__(message if element is None else f"{message} (element '{element}')")


class SchemaOutdated(KedjaError):
    """The database schema is older than this release; run `kedja db upgrade`."""


class DamagedState(KedjaError):
    """An instance's stored SpiffWorkflow state cannot be loaded: it is not valid JSON, or
    SpiffWorkflow cannot restore it (edited or truncated in the database, written by a
    release that could not read it back).

    Such an instance cannot step, so nothing that needs its state (completing a task,
    delivering a message, retrying, reading its variables) can be done; the call that found
    it changed nothing. What its rows say — key, version, start, open tasks, history — can
    still be read, and an administrator can terminate it: terminating works without the
    state. `kedja audit verify` lists every damaged instance.
    """

    exit_code = 1

    def __init__(self, instance_id: int, problem: str) -> None:
        self.instance_id = instance_id
        self.problem = problem
        super().__init__(
            f"Instance {instance_id} is damaged: its stored state cannot be loaded "
            f"({problem}). Nothing was changed. An administrator can terminate it "
            f"(kedja terminate {instance_id} --reason ...)."
        )
