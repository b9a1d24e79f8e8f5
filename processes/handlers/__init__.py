"""The handlers the city's diagrams call by name (service task operators).

Each is a plain function taking an `engine.services.ServiceCall` and returning a JSON-ready
dict; docs/processes.md lists their parameters and results. They run inside the engine step's
transaction, so what they write commits or rolls back with the step.
"""

from __future__ import annotations

from engine.services import Service

from .decisions import register_decision
from .evaluations import previous_evaluations, record_evaluation
from .guideline import publish_guideline, record_guideline_review
from .notifications import notify, notify_users
from .organisations import appoint_responsible, participating_organisations
from .prize import erase_nominator_data, notify_nominators, prize_nominations, publish_prize_winner
from .tertial_report import compile_tertial_report

HANDLERS: dict[str, Service] = {
    f.__name__: f
    for f in (
        participating_organisations,
        appoint_responsible,
        previous_evaluations,
        record_evaluation,
        compile_tertial_report,
        register_decision,
        publish_guideline,
        record_guideline_review,
        notify,
        notify_users,
        prize_nominations,
        notify_nominators,
        publish_prize_winner,
        erase_nominator_data,
    )
}
