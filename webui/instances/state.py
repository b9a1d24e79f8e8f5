"""Which elements of a case are done and which are active, per process diagram.

Active elements come from the instance's live workflow (tasks that are ready, waiting or
started: an open user task, a timer or message being waited for, a call activity whose
called process is running). Completed elements come from the history, not from the
workflow: the engine prunes finished branches from the workflow so that a step costs the
same in a case's tenth year as in its first, but the history keeps every completion.

History events name the process (diagram) an element belongs to; events written before the
engine recorded it are sorted into diagrams by the ids each diagram declares, for the diagrams
the case has entered (its own, and those its call activities have called).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine import Engine

from .model import DefinitionModel

ACTIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED
COMPLETION_EVENTS = frozenset({"element.completed", "task.completed"})


@dataclass
class ProcessState:
    completed: set[str] = field(default_factory=set)
    active: set[str] = field(default_factory=set)

    @property
    def entered(self) -> bool:
        return bool(self.completed or self.active)


def element_states(
    engine: Engine,
    instance_id: int,
    model: DefinitionModel,
    events: list[dict[str, Any]],
    open_task_elements: set[str] | None = None,
) -> dict[str, ProcessState]:
    """Raises `DamagedState` when the instance's workflow cannot be loaded; then call it
    again with `open_task_elements`, the elements of its open task rows: the only active
    elements its rows know of (its timers and messages are in the damaged state)."""
    states = {process_id: ProcessState() for process_id in model.processes}
    if open_task_elements is None:
        workflow = engine.runtime.workflow(instance_id)
        for task in workflow.get_tasks(state=ACTIVE_STATES):
            bpmn_id = task.task_spec.bpmn_id
            process_id = getattr(task.workflow.spec, "name", None)
            if bpmn_id and process_id in states:
                states[process_id].active.add(bpmn_id)
    else:
        for element_id in open_task_elements:
            process_id = next(
                (pid for pid, p in model.processes.items() if element_id in p.elements), None
            )
            if process_id is not None:
                states[process_id].active.add(element_id)
        _mark_calls_active(model, states)
    completions = [e for e in events if e["kind"] in COMPLETION_EVENTS and e["element_id"]]
    by_process: dict[str, set[str]] = {}
    for e in completions:
        process_id = (e.get("data") or {}).get("process")
        if process_id in states:
            by_process.setdefault(process_id, set()).add(e["element_id"])
    done = {e["element_id"] for e in completions if not (e.get("data") or {}).get("process")}
    # Walk from the case's own process into the processes its call activities reached, so
    # that an id shared by two diagrams ("start") counts only in diagrams the case entered.
    pending = [model.key] if model.key in states else []
    seen = set(pending)
    while pending:
        process_id = pending.pop()
        process, state = model.processes[process_id], states[process_id]
        # An element active again (a loop's next round) is shown as active, not as done.
        known = by_process.get(process_id, set()) | (done & process.elements.keys())
        state.completed = known - state.active
        for call, called in process.calls.items():
            reached = call in state.completed or call in state.active
            if reached and called in states and called not in seen:
                seen.add(called)
                pending.append(called)
    return states


def _mark_calls_active(model: DefinitionModel, states: dict[str, ProcessState]) -> None:
    """A call activity is active while the process it calls has active elements (for a
    damaged case, where only the task rows say what is active)."""
    changed = True
    while changed:
        changed = False
        for process_id, process in model.processes.items():
            for call, called in process.calls.items():
                active = states[process_id].active
                if called in states and states[called].active and call not in active:
                    active.add(call)
                    changed = True
