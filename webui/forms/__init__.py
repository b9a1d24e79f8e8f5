"""Forms from JSON Schema: render a task's form as accessible HTML, read the submitted form
back as data of the schema's types, and word validation problems for people.

Used by the task pages (and by any page that shows a process form): build the field tree
once with `build(schema, ui_schema)`, fill it with `initial(...)`, render it with
`Renderer(values, errors).form(tree)`, read a POST with `parse(...)`, and turn the engine's
`ValidationError` into messages by field with `messages(...)`. Server-rendered, no
JavaScript needed: tables get and lose rows through submit buttons (`apply_row_action`).
"""

from __future__ import annotations

from .messages import messages
from .render import Renderer
from .spec import MISSING, Field, build, field_id, join, locate, split
from .values import Parsed, apply_row_action, initial, overlay_readonly, parse, value_at

__all__ = [
    "MISSING",
    "Field",
    "Parsed",
    "Renderer",
    "apply_row_action",
    "build",
    "field_id",
    "initial",
    "join",
    "locate",
    "messages",
    "overlay_readonly",
    "parse",
    "split",
    "value_at",
]
