"""Who may work on a task of the city's processes: the lane's role, scoped by organisation."""

from __future__ import annotations

from SpiffWorkflow.task import Task

from engine.task_mirror import Assignment, DefaultTaskPolicy, task_properties

from .roles import lane_role


class GovernanceTaskPolicy(DefaultTaskPolicy):
    """The engine's default policy with the city's lane names mapped to role ids
    ("Ansvarig" -> `responsible`); everything else (organisation from the `organisation`
    variable, candidates, due dates, `roleFrom`) is the engine's.

    One rule of the city's own: a task whose candidates are computed for it
    (`candidateUsersFrom`, e.g. one jury member's scoring) is for those people only, not for
    everyone holding the lane's role."""

    def lane_role(self, lane: str | None, definition_key: str) -> str | None:
        return lane_role(lane)

    def assign(self, task: Task, definition_key: str) -> Assignment:
        assignment = super().assign(task, definition_key)
        if task_properties(task).get("candidateUsersFrom") and assignment.candidate_users:
            assignment.role = None
        return assignment
