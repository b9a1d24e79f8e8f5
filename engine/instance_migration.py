"""Moving a running instance to a newer version of its process.

A process owner deploys version n+1; instances running on n stay on n unless an
administrator moves them. Moving is safe only when the new version still has every element
the instance's live state refers to: SpiffWorkflow keeps (unpruned) completed tasks and the
active ones, each naming its element, and a state naming an element the new version lacks
could not be loaded again. So the check is strict and says exactly what stands in the way:

* every element a task of the live state is on (active, waiting, or completed but not yet
  pruned) exists in the new version, in the process it belongs to; elements only predicted
  below an active task may be gone (they are predicted again from the new version);
* no active element changed its kind (a user task that became a script task);
* every called process running in the instance exists in the new version.

Moving replaces the specs (SpiffWorkflow's own `migrate_workflow`, aligned by element id),
re-predicts the branches below active and waiting tasks, and checks that the result can be
saved and loaded with the new version before anything is committed. A waiting duration timer
starts counting again from the move (its due time is re-evaluated); a timeDate timer keeps its
date. Open human tasks keep their ids, assignees and drafts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class MigrationCheck:
    instance_id: int
    from_version: int
    to_version: int
    problems: list[str] = field(default_factory=list)

    @property
    def possible(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "possible": self.possible,
            "problems": list(self.problems),
        }


def _label(task: Any) -> str:
    spec = task.task_spec
    name = getattr(spec, "bpmn_name", None)
    return f"'{spec.bpmn_id or spec.name}'" + (f" ({name})" if name else "")


def _diffs(
    registry: Any, workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict[str, Any]
) -> tuple[WorkflowDiff, dict[Any, WorkflowDiff | None], list[str]]:
    problems: list[str] = []
    top = WorkflowDiff(workflow, SpecDiff(registry, workflow.spec, spec))
    subs: dict[Any, WorkflowDiff | None] = {}
    for sp_id, sub in workflow.subprocesses.items():
        name = sub.spec.name
        if name not in subprocess_specs:
            subs[sp_id] = None
            problems.append(
                f"the called process '{name}' is running in the instance, but the new version "
                "does not include it"
            )
        else:
            subs[sp_id] = WorkflowDiff(sub, SpecDiff(registry, sub.spec, subprocess_specs[name]))
    return top, subs, problems


def _repredicted(task: Any) -> bool:
    """A predicted task below an active one: moving drops and re-predicts it."""
    if not task.state & TaskState.PREDICTED_MASK and task.state != TaskState.FUTURE:
        return False
    parent = task.parent
    while parent is not None:
        if parent.state & (TaskState.READY | TaskState.WAITING):
            return True
        parent = parent.parent
    return False


def _problems_of(diff: WorkflowDiff, process: str) -> list[str]:
    problems = []
    for task, new in diff.alignment.items():
        # SpiffWorkflow also aligns by position when ids differ; Kedja moves only by id, so
        # an element is never silently taken for another (task rows and history name ids).
        if new is not None and new.name != task.task_spec.name and not _repredicted(task):
            problems.append(
                f"element {_label(task)} of '{process}' does not exist in the new version "
                f"(SpiffWorkflow would take '{new.name}' for it)"
            )
    for task in diff.removed:
        if _repredicted(task):
            continue
        where = "active" if task.state & ACTIVE else "part of the instance's state"
        problems.append(
            f"element {_label(task)} of '{process}' is {where} but does not exist in the new "
            "version"
        )
    for task in diff.changed:
        if task.state & ACTIVE and task in diff.alignment:
            new = diff.alignment[task]
            if new is not None and type(new).__name__ != type(task.task_spec).__name__:
                problems.append(
                    f"active element {_label(task)} of '{process}' is a "
                    f"{type(task.task_spec).__name__} but a {type(new).__name__} in the new "
                    "version"
                )
    return problems


def check(
    registry: Any, workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict[str, Any]
) -> list[str]:
    """What stands in the way of moving `workflow` to `spec` (empty: it can move)."""
    top, subs, problems = _diffs(registry, workflow, spec, subprocess_specs)
    problems += _problems_of(top, workflow.spec.name)
    for sp_id, diff in subs.items():
        if diff is not None:
            problems += _problems_of(diff, workflow.subprocesses[sp_id].spec.name)
    return problems


def apply(
    registry: Any, workflow: BpmnWorkflow, spec: Any, subprocess_specs: dict[str, Any]
) -> None:
    """Move `workflow` to the new specs in place; call `check` first."""
    top, subs, problems = _diffs(registry, workflow, spec, subprocess_specs)
    if problems:
        raise ValueError("; ".join(problems))
    migrate_workflow(top, workflow, spec)
    for sp_id, diff in subs.items():
        sub = workflow.subprocesses[sp_id]
        if diff is not None:
            migrate_workflow(diff, sub, subprocess_specs[sub.spec.name])
    workflow.subprocess_specs = subprocess_specs
