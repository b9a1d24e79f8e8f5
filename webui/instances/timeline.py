"""The case's history as sentences people read: what happened, who did it, when.

The history log speaks in event kinds and element ids (`task.completed`, `lagesbild`); the
case page is read by staff, council members and auditors, so each event becomes a plain
sentence naming the step as the diagram names it. What people wrote in forms is not
repeated here: the timeline says that a task was completed, not what it said, so a case
page never becomes a second way to read every form. Decisions are the exception: they are
official records and are shown in full in their own section.

Steps nobody would miss (gateways, unnamed events) are left out of the short timeline; the
full timeline (`?alla=1`) shows every event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _

from .model import DefinitionModel

ENGINE_ACTORS = frozenset({"engine", "system"})
MILESTONES = frozenset(
    {
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "callActivity",
        "subProcess",
        "sendTask",
        "receiveTask",
        "manualTask",
        "task",
    }
)
"""Elements whose completion the short timeline shows: outcomes, waits that ended, called
processes that finished. Gateways only choose a way, a start is "Ärendet startades", and
script and service tasks are Kedja's own bookkeeping between two people's steps."""


@dataclass(frozen=True)
class Entry:
    at: datetime
    text: str
    actor: str | None
    """The person's name, or None when Kedja itself did it (a timer, a script)."""
    important: bool


def _quoted(name: str | None) -> str:
    """A name as Swedish quotes it (”…” on both sides)."""
    return f"”{name or '?'}”"


def describe(
    events: list[dict[str, Any]],
    model: DefinitionModel,
    user_name: Callable[[str], str],
    show_technical: bool,
) -> list[Entry]:
    """Entries for `events`, oldest first."""
    task_names: dict[int, str] = {}
    entries = []
    for event in events:
        kind, data = event["kind"], event["data"] or {}
        element = model.element(event["element_id"])
        step_name = (element.name if element else None) or event["element_id"]
        if event["task_id"] is not None and data.get("name"):
            task_names[event["task_id"]] = data["name"]
        step = _quoted(step_name)
        task = _quoted(task_names.get(event["task_id"]) or step_name)
        important = True
        if kind == "instance.started":
            text = _("Ärendet startades.")
        elif kind == "instance.completed":
            text = _("Ärendet avslutades.")
        elif kind == "instance.suspended":
            text = _("Ärendet pausades.")
        elif kind == "instance.resumed":
            text = _("Ärendet återupptogs.")
        elif kind == "instance.terminated":
            text = _("Ärendet avbröts.")
        elif kind == "task.created":
            text = _("Uppgiften %(task)s skapades.", task=task)
            important = False
        elif kind == "task.claimed":
            text = _("Uppgiften %(task)s togs.", task=task)
            important = False
        elif kind == "task.unclaimed":
            text = _("Uppgiften %(task)s lämnades tillbaka.", task=task)
            important = False
        elif kind == "task.completed":
            text = _("Uppgiften %(task)s slutfördes.", task=task)
        elif kind == "task.cancelled":
            text = _("Uppgiften %(task)s behövdes inte längre och avslutades.", task=task)
        elif kind == "element.completed":
            text = _("Steget %(step)s genomfördes.", step=step)
            important = bool(element and element.name and element.kind in MILESTONES)
        elif kind == "timer.fired":
            text = _("Tidpunkten för %(step)s inträffade.", step=step)
        elif kind == "message.received":
            text = _("Meddelandet %(name)s togs emot.", name=_quoted(data.get("name")))
        elif kind == "decision.registered":
            text = _(
                "Beslut %(number)s registrerades: %(decision)s.",
                number=data.get("number", ""),
                decision=data.get("decision", ""),
            )
        elif kind == "notification.queued":
            text = _(
                "Ett meddelande skickades till %(count)s mottagare.",
                count=len(data.get("recipients") or []),
            )
        elif kind == "tertial.compiled":
            text = _(
                "Tertialrapporten för %(tertial)s sammanställdes.", tertial=data.get("tertial")
            )
        elif kind == "guideline.published":
            text = _("Version %(version)s av riktlinjen publicerades.", version=data.get("version"))
        elif kind == "guideline.reviewed":
            text = _("Översynen av riktlinjen registrerades.")
        elif kind == "evaluation.recorded":
            text = _("Utvärderingen registrerades.")
        elif kind == "register.responsible_appointed":
            text = _("En ansvarig utsågs i organisationsregistret.")
        elif kind == "prize.nominators_notified":
            text = _("De som nominerade fick besked.")
        elif kind == "prize.published":
            text = _("Pristagaren publicerades.")
        elif kind == "personal_data.erased":
            text = _("Personuppgifter raderades enligt lagringstiden.")
        elif kind in ("incident.created", "incident.failed_again"):
            text = _("Ett fel stoppade ärendet vid %(step)s.", step=step)
            if show_technical and data.get("message"):
                text += " " + str(data["message"])
        elif kind == "incident.retried":
            text = _("Ett nytt försök gjordes efter ett fel.")
        else:
            text = _("Händelse: %(kind)s.", kind=kind)
        actor = None if event["actor"] in ENGINE_ACTORS else user_name(event["actor"])
        entries.append(Entry(event["at"], text, actor, important))
    return entries
