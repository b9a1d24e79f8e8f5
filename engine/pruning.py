"""Keep an instance's live state the size of what is still running, not of its whole past.

SpiffWorkflow never forgets: every completed task stays in the task tree and every finished
call activity stays in `workflow.subprocesses`. A process that loops every tertial for ten
years would carry ten years of tasks into every step: the serialized state, the time to load
and save it, and SpiffWorkflow's own scans over `workflow.tasks` (gateways and joins walk the
whole tree) all grow with the instance's age.

Kedja's history log already records everything that happened, so the live state only needs
what can still influence the future. After every step we cut the tree above the lowest task
that is an ancestor of all unfinished work, keeping that task's parent (joins and data
inheritance look one step up), the root, and `last_task` (a finishing subprocess hands its
data on through it). What is cut is finished, and no longer reachable from anything that can
still run. Finished subprocesses whose call activity has completed are dropped too.

It also keeps SpiffWorkflow's task iterator working: it stops descending at depth 1000, so
an unpruned instance that looped long enough would stop seeing its own newest tasks.

This module depends on the shape of SpiffWorkflow's task tree; SpiffWorkflow is pinned to one
exact version for that reason, and the tests compare pruned and unpruned runs.
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


def prune(workflow: BpmnWorkflow) -> int:
    """Drop what can no longer matter; returns the number of tasks removed.

    A workflow that has not grown since it was last pruned has nothing new to cut, so that
    case costs one comparison (most steps of a straight process)."""
    size = _size(workflow)
    if size <= getattr(workflow, "_kedja_pruned_size", -1):
        return 0
    removed = _prune_tree(workflow)
    for subprocess in list(workflow.subprocesses.values()):
        removed += _prune_tree(subprocess)
    removed += _drop_finished_subprocesses(workflow)
    workflow._kedja_pruned_size = _size(workflow)
    return removed


def _size(workflow: BpmnWorkflow) -> int:
    return len(workflow.tasks) + sum(len(sp.tasks) + 1 for sp in workflow.subprocesses.values())


def _path_to_root(tasks: dict[UUID, Task], task: Task) -> list[UUID]:
    path = []
    node: Task | None = task
    while node is not None:
        path.append(node.id)
        node = tasks.get(node._parent)
    path.reverse()
    return path


def _prune_tree(workflow) -> int:  # type: ignore[no-untyped-def]
    tasks = workflow.tasks
    root = workflow.task_tree
    # Only the top of the unfinished work matters: an unfinished task below another
    # unfinished task is inside its subtree anyway (predicted tasks form long chains).
    # This runs after every step: plain attribute access instead of Task's properties.
    finished = TaskState.FINISHED_MASK
    anchors = set()
    for task in tasks.values():
        if not task._state & finished:
            parent = tasks.get(task._parent)
            if parent is None or parent._state & finished:
                anchors.add(parent or task)
    if not anchors:
        return 0
    if workflow.last_task is not None and workflow.last_task.id in tasks:
        anchors.add(workflow.last_task)

    # Lowest common ancestor of the anchors: the longest shared prefix of their root paths.
    paths = [_path_to_root(tasks, a) for a in anchors]
    common = paths[0]
    for path in paths[1:]:
        n = 0
        for a, b in zip(common, path, strict=False):
            if a != b:
                break
            n += 1
        common = common[:n]
        if len(common) <= 2:
            return 0
    keep_top = tasks[common[-1]]
    if keep_top.parent is None or keep_top.parent is root:
        return 0

    keep: set[UUID] = {root.id}
    stack = [keep_top.id]
    while stack:
        task_id = stack.pop()
        keep.add(task_id)
        stack.extend(c for c in tasks[task_id]._children if c in tasks)

    doomed = [tid for tid in tasks if tid not in keep]
    event_tasks = workflow.top_workflow.event_manager.tasks
    for tid in doomed:
        del tasks[tid]
        event_tasks.pop(tid, None)
    keep_top._parent = root.id
    root._children = [keep_top.id]
    return len(doomed)


def _drop_finished_subprocesses(workflow: BpmnWorkflow) -> int:
    removed = 0
    changed = True
    while changed:
        changed = False
        for task_id, subprocess in list(workflow.subprocesses.items()):
            owner = _find_task(workflow, task_id)
            if owner is None or owner.has_state(TaskState.FINISHED_MASK):
                removed += len(subprocess.tasks)
                del workflow.subprocesses[task_id]
                changed = True
    return removed


def _find_task(workflow: BpmnWorkflow, task_id: UUID) -> Task | None:
    if task_id in workflow.tasks:
        return workflow.tasks[task_id]
    for subprocess in workflow.subprocesses.values():
        if task_id in subprocess.tasks:
            return subprocess.tasks[task_id]
    return None
