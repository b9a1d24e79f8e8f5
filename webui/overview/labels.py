"""Words for the dashboard's values, in the reader's language.

The processes store the city's own Swedish values (`grön`, `påbörjad`, …) and the dashboard
its state keys (`late`, `missing`, …); people read them through these functions, on the page
and in the exports alike, so both say the same.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import pgettext

from processes import dashboard

STATES = {
    dashboard.SUBMITTED: _l("Inlämnad i tid"),
    dashboard.LATE: _l("Sen"),
    dashboard.MISSING: _l("Saknas"),
    dashboard.AWAITED: _l("Väntas in"),
    dashboard.NOT_DUE: _l("Perioden pågår"),
}
COLOURS = {"grön": _l("Grön"), "gul": _l("Gul"), "röd": _l("Röd")}
COLOUR_CLASSES = {"grön": "green", "gul": "yellow", "röd": "red"}


def _statuses() -> dict[str, str]:
    """With a context: "Försenad" is a delayed measure here, an overdue task elsewhere."""
    return {
        "genomförd": pgettext("åtgärdens status", "Genomförd"),
        "påbörjad": pgettext("åtgärdens status", "Påbörjad"),
        "ej påbörjad": pgettext("åtgärdens status", "Ej påbörjad"),
        "försenad": pgettext("åtgärdens status", "Försenad"),
        "avförd": pgettext("åtgärdens status", "Avförd"),
    }


TRENDS = {
    dashboard.BETTER: _l("Bättre"),
    dashboard.WORSE: _l("Sämre"),
    dashboard.SAME: _l("Oförändrad"),
}
TREND_SIGNS = {dashboard.BETTER: "↑", dashboard.WORSE: "↓", dashboard.SAME: "→"}
KINDS = {
    "central": _l("Central förvaltning"),
    "district": _l("Stadsdelsförvaltning"),
    "specialist": _l("Facknämndsförvaltning"),
    "company": _l("Bolag"),
}


def state(value: str) -> str:
    return str(STATES.get(value, value))


def colour(value: str | None) -> str:
    if not value:
        return str(_l("Ingen färg"))
    return str(COLOURS.get(value, value))


def status(value: str | None) -> str:
    if not value:
        return str(_l("Inte rapporterad"))
    return _statuses().get(value, value)


def trend(value: str | None) -> str:
    if not value:
        return str(_l("Ingen jämförelse"))
    return str(TRENDS.get(value, value))


def kind(value: str | None) -> str:
    if not value:
        return ""
    return str(KINDS.get(value, value))
