"""Hand a task over to a colleague: who qualifies, and the handover itself.

A colleague qualifies if they could work on the task themselves (the same role in the same
organisation, or a candidate user or group), so a handover never widens who sees a task.

The handover is the engine's `tasks.delegate`: one transaction that assigns the task and
records `task.delegated` (from, to, by whom) in the instance's history, so no third person can
take the task in between and no claim the colleague never made appears. The colleague's
notification, with a link to the task, is queued in that same transaction.
"""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from engine import Actor, Engine
from engine.clock import to_storage
from engine.errors import NotFound, NotPermitted
from engine.models import HumanTask
from engine.tasks import TaskInfo
from processes.governance import register_of
from processes.models import Notification
from processes.register import UserInfo

from .access import may_hand_over


def colleagues(engine: Engine, task: TaskInfo, actor: Actor) -> list[UserInfo]:
    """Active users, other than the actor and the assignee, who could work on the task."""
    register = register_of(engine)
    ids: set[str] = set(task.candidate_users)
    for group in task.candidate_groups:
        ids.update(register.users_with_role(group))
    if task.role:
        ids.update(register.users_with_role(task.role, task.organisation))
    ids.discard(actor.id)
    if task.assignee:
        ids.discard(task.assignee)
    found = []
    for user_id in ids:
        try:
            user = register.user(user_id)
            colleague = register.actor(user_id)
        except NotFound:
            continue
        # By role or by name, not by being an administrator (who may act on any task but
        # is nobody's colleague for it).
        if user.active and _named(colleague, task):
            found.append(user)
    return sorted(found, key=lambda u: (u.name.lower(), u.id))


def _named(colleague: Actor, task: TaskInfo) -> bool:
    return (
        colleague.id in task.candidate_users
        or bool(colleague.roles & set(task.candidate_groups))
        or colleague.holds(task.role, task.organisation)
    )


def hand_over(engine: Engine, task: TaskInfo, to_user: str, actor: Actor) -> None:
    """Assign `task` to `to_user` on behalf of `actor` (see the module docstring)."""
    if not may_hand_over(actor, task):
        raise NotPermitted(f"{actor.id} may not hand over task {task.id}.")
    if to_user not in {u.id for u in colleagues(engine, task, actor)}:
        raise NotPermitted(f"{to_user} may not work on task {task.id}.")
    register = register_of(engine)
    now = engine.clock.now()

    def notify(session: Session, row: HumanTask) -> None:
        name = row.name or row.element_id
        with force_locale(register.user(to_user).language):  # the recipient's language
            subject = _("Du har fått en uppgift: %(name)s", name=name)
            message = _(
                "%(who)s har lämnat över uppgiften ”%(name)s” till dig.",
                who=register.user(actor.id).name,
                name=name,
            )
        session.add(
            Notification(
                created_at=to_storage(now),
                recipient=to_user,
                email=None,
                kind="task_handed_over",
                subject=subject,
                message=message,
                link=f"/uppgifter/{row.id}",
                instance_id=row.instance_id,
                task_id=row.id,
                state="queued",
                attempts=0,
            )
        )

    engine.tasks.delegate(task.id, register.actor(to_user), actor, also=notify)
