"""SpiffWorkflow state <-> JSON text, the one place that knows the serializer.

Four decisions live here:

* The serializer is SpiffWorkflow's `BpmnWorkflowSerializer` configured with `SPIFF_CONFIG`
  (SpiffArena's extensions: forms, pre/post scripts, service tasks), so a model made for
  SpiffArena runs unchanged.
* Specs are stored once per process definition, not in every instance: the instance state
  holds only the task tree and data. That keeps a step's write small and constant.
* Stored states carry the serializer version. `from_dict` does not migrate old formats by
  itself (a known trap), so `load_workflow` runs SpiffWorkflow's migrations explicitly when
  the stored version is older than the running one.
* Saving a state (every step) does not go through the converters: `_StateWriter` writes the
  same text directly, keeping each task's unchanged part between saves. The converters stay
  as the reference (`dump_state_reference`); tests/test_step_storage.py checks every state
  the engine saves in its scenarios against them.

Task data may hold datetimes, dates and decimals (form answers, calendar dates); they are
encoded with the serializer's own encoder and come back as the same types.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring as _quote_unicode
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_STATE_VERSION
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

try:  # the C encoder json.dumps uses; absent only on unusual builds (then: the converters)
    from _json import make_encoder as _make_encoder
except ImportError:  # pragma: no cover
    _make_encoder = None

__all__ = ["SPIFF_STATE_VERSION", "StateCodec"]


def _ids(workflow: Any) -> dict:
    """Text forms of the workflow's task ids, kept with the workflow.

    `str(UUID)` is pure Python and a state holds every id three times over (key, parent,
    children): on every step that was a third of the serializer's time. The cache is reset
    when pruning has left it much larger than the tree.
    """
    ids = workflow.__dict__.get("_kedja_ids")
    if ids is None or len(ids) > 4 * len(workflow.tasks) + 64:
        ids = workflow._kedja_ids = {}
    return ids


def _text(ids: dict, task_id: Any) -> str:
    text = ids.get(task_id)
    if text is None:
        text = ids[task_id] = str(task_id)
    return text


def _quoted_ids(workflow: Any) -> dict:
    """Task ids as JSON string literals, kept with the workflow like `_ids`."""
    quoted = workflow.__dict__.get("_kedja_quoted_ids")
    if quoted is None or len(quoted) > 4 * len(workflow.tasks) + 64:
        quoted = workflow._kedja_quoted_ids = {}
    return quoted


def _quoted(quoted: dict, task_id: Any) -> str:
    text = quoted.get(task_id)
    if text is None:
        text = quoted[task_id] = _quote(str(task_id))
    return text


class _InstanceStateConverter(BpmnWorkflowConverter):
    """Like SpiffWorkflow's converter, minus the specs (they live with the definition)."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict:
        # SpiffWorkflow's WorkflowConverter.to_dict, with task ids as cached text (see _text).
        ids = _ids(workflow)
        last = workflow.last_task
        return {
            "data": self.registry.convert(self.registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": _text(ids, last.id) if last is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": {_text(ids, k): self.registry.convert(v) for k, v in workflow.tasks.items()},
            "root": _text(ids, workflow.task_tree.id),
            "subprocesses": self.mapping_to_dict(workflow.subprocesses),
            "bpmn_events": self.registry.convert(workflow.bpmn_events),
        }

    def from_dict(self, dct: dict, spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        dct = dict(dct)
        dct["spec"] = spec
        dct["subprocess_specs"] = subprocess_specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        return self._restore_into(workflow, dct)

    def _restore_into(self, workflow: BpmnWorkflow, dct: dict) -> BpmnWorkflow:
        from uuid import UUID

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _FastTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, written for speed: every step saves every live task.

    Same output, key for key (tests/test_serialization.py compares them); it avoids Task's
    properties, which look tasks up in dictionaries keyed by UUID, on the path that runs for
    every task of every step.
    """

    def to_dict(self, task: Task) -> dict:
        parent_id = task._parent
        parent = task.workflow.tasks.get(parent_id)
        if parent is None:
            data, delta = task.data, {}
        else:
            old, new = parent.data, task.data
            data = {}
            delta = {
                "updates": {k: v for k, v in new.items() if k not in old or v != old[k]},
                "deletions": [k for k in old if k not in new],
            }
        internal = task.internal_data
        ids = _ids(task.workflow)
        return {
            "id": _text(ids, task.id),
            "parent": _text(ids, parent_id) if parent is not None else None,
            "children": [_text(ids, child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task._state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(internal) if internal else {},
            "data": data,
            "delta": delta,
        }


class _StateWriter:
    """Writes an instance state as JSON text directly, the same text, byte for byte, as
    SpiffWorkflow's converters plus the JSON encoder (`StateCodec.dump_state_reference`;
    tests/test_step_storage.py compares them on every kind of state and change).

    Every step saves every live task, and going through the converters builds a dictionary
    per task that the encoder then walks key by key: together they were the largest part of
    a step's own cost. Here the fixed parts of a task (ids, state, spec name) are written as
    text, and only values that can hold anything (data, delta, internal data, workflow data)
    go through the same C encoder with SpiffWorkflow's `default`; a task's fixed part is kept
    with it between saves (see `_task`). Anything that is not a plain `Task` or
    `BpmnSubWorkflow` goes through the converters, as before.

    One writer per `dump_state` call: the encoder's circular-reference markers are per call.
    """

    __slots__ = ("_chunks", "_registry")

    def __init__(self, registry: Any, default: Any) -> None:
        self._registry = registry
        # The arguments JSONEncoder(separators=(",", ":")).iterencode passes to it.
        self._chunks = _make_encoder({}, default, _quote, None, ":", ",", False, False, True)

    def json(self, value: Any) -> str:
        return "".join(self._chunks(value, 0))

    def _obj(self, value: Any) -> str:
        return "{}" if type(value) is dict and not value else self.json(value)

    def _flag(self, value: Any) -> str:
        return "true" if value is True else "false" if value is False else self.json(value)

    def workflow(self, wf: BpmnWorkflow) -> str:
        return "".join(
            (
                *self._common(wf),
                ',"subprocesses":',
                self._subprocesses(wf),
                ',"bpmn_events":',
                self.json(self._registry.convert(wf.bpmn_events)),
                ',"typename":"BpmnWorkflow"}',
            )
        )

    def _common(self, wf: Any) -> tuple[str, ...]:
        """The fields a workflow and a subworkflow share, in the converters' order."""
        registry, quoted, last = self._registry, _quoted_ids(wf), wf.last_task
        return (
            '{"data":',
            self._obj(registry.convert(registry.clean(wf.data))),
            ',"correlations":',
            self._obj(wf.correlations),
            ',"last_task":',
            _quoted(quoted, last.id) if last is not None else "null",
            ',"success":',
            self._flag(wf.success),
            ',"completed":',
            self._flag(wf.completed),
            ',"tasks":',
            self._tasks(wf, quoted),
            ',"root":',
            _quoted(quoted, wf.task_tree.id),
        )

    def _subprocesses(self, wf: BpmnWorkflow) -> str:
        if not wf.subprocesses:
            return "{}"
        parts = []
        for key, sub in wf.subprocesses.items():
            if type(sub) is BpmnSubWorkflow:
                text = self._subworkflow(sub)
            else:
                text = self.json(self._registry.convert(sub))
            parts.append(f"{_quote(str(key))}:{text}")
        return "{" + ",".join(parts) + "}"

    def _subworkflow(self, sub: BpmnSubWorkflow) -> str:
        # SpiffWorkflow's BpmnSubWorkflowConverter.to_dict, field for field.
        return "".join(
            (
                *self._common(sub),
                ',"parent_task_id":',
                _quote(str(sub.parent_task_id)),
                ',"spec":',
                self.json(sub.spec.name),
                ',"typename":"BpmnSubWorkflow"}',
            )
        )

    def _tasks(self, wf: Any, quoted: dict) -> str:
        parts = []
        for key, task in wf.tasks.items():
            if type(task) is Task:
                parts.append(self._task(key, task, quoted))
            else:
                parts.append(f"{_quoted(quoted, key)}:{self.json(self._registry.convert(task))}")
        return "{" + ",".join(parts) + "}"

    def _task(self, key: Any, task: Task, quoted: dict) -> str:
        """`"<key>":{...}` for one task, as `_FastTaskConverter.to_dict` and the encoder
        write it.

        Everything before the internal data depends only on the key, the id, the parent, the
        children, the state, its time, the spec's name and `triggered`. That text is kept on
        the task with the values it was written from, and reused while each is still the very
        same object (the children: an equal list of ids); those are immutable, so the same
        object prints the same. Most tasks of a step are untouched, finished or predicted
        ones. Data, delta and internal data can change in place, so they are written anew.
        """
        parent_id = task._parent
        parent = task.workflow.tasks.get(parent_id)
        orphan = parent is None
        head = task.__dict__.get("_kedja_json_head")
        if (
            head is None
            or head[0] is not key
            or head[1] is not task.id
            or head[2] is not parent_id
            or head[3] is not orphan
            or head[4] is not task.last_state_change
            or head[5] is not task._state
            or head[6] is not task.task_spec.name
            or head[7] is not task.triggered
            or head[8] != task._children
        ):
            head = (
                key,
                task.id,
                parent_id,
                orphan,
                task.last_state_change,
                task._state,
                task.task_spec.name,
                task.triggered,
                list(task._children),
                self._head(key, task, orphan, quoted),
            )
            task._kedja_json_head = head
        new, internal = task.data, task.internal_data
        if orphan:
            data, delta = self._obj(new), "{}"
        elif not new:  # a predicted task: nothing of its own yet
            old = parent.data
            data = "{}"
            delta = '{"updates":{},"deletions":' + (self.json(list(old)) if old else "[]") + "}"
        else:
            old = parent.data
            updates = {k: v for k, v in new.items() if k not in old or v != old[k]}
            deletions = [k for k in old if k not in new]
            data = "{}"
            delta = (
                '{"updates":'
                + (self.json(updates) if updates else "{}")
                + ',"deletions":'
                + (self.json(deletions) if deletions else "[]")
                + "}"
            )
        return "".join(
            (
                head[9],
                self.json(self._registry.convert(internal)) if internal else "{}",
                ',"data":',
                data,
                ',"delta":',
                delta,
                ',"typename":"Task"}',
            )
        )

    def _head(self, key: Any, task: Task, orphan: bool, quoted: dict) -> str:
        changed, state, name = task.last_state_change, task._state, task.task_spec.name
        triggered = task.triggered
        return "".join(
            (
                _quoted(quoted, key),
                ':{"id":',
                _quoted(quoted, task.id),
                ',"parent":',
                "null" if orphan else _quoted(quoted, task._parent),
                ',"children":[',
                ",".join([_quoted(quoted, child) for child in task._children]),
                '],"last_state_change":',
                float.__repr__(changed)
                if type(changed) is float and math.isfinite(changed)
                else self.json(changed),
                ',"state":',
                int.__repr__(state) if type(state) is int else self.json(state),
                ',"task_spec":',
                _quote(name) if type(name) is str else self.json(name),
                ',"triggered":',
                self._flag(triggered),
                ',"internal_data":',
            )
        )


def _registry(fast_tasks: bool = False):
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _InstanceStateConverter
    if fast_tasks:
        config[Task] = _FastTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # SpiffWorkflow registers datetime and timedelta; form answers also hold dates and
    # decimals, which would otherwise fail to encode or come back as strings.
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"])
    )
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return registry


class StateCodec:
    """Encodes specs and instance states; one per `Engine` (it holds no per-call state)."""

    def __init__(self) -> None:
        self.serializer = BpmnWorkflowSerializer(_registry())
        self.registry = self.serializer.registry
        self._encoder = create_encoder(self.registry)
        # One encoder instance, reused: json.dumps(cls=...) would build one per call.
        self._data_encoder = self._encoder(separators=(",", ":"), ensure_ascii=False)
        # SpiffWorkflow's own fast path for states (what its serialize_json does): convert the
        # objects shallowly and let the JSON encoder handle nested values. A registry of its
        # own, because the mode is a flag on the registry and specs need the other one.
        self._state_registry = _registry(fast_tasks=True)
        self._state_registry._encoder_mode = True
        self._state_json = create_encoder(self._state_registry)(separators=(",", ":"))

    # -- specs --------------------------------------------------------------------------

    def dump_specs(self, spec: Any, subprocess_specs: dict[str, Any]) -> str:
        doc = {
            "spec": self.registry.convert(spec),
            "subprocess_specs": {k: self.registry.convert(v) for k, v in subprocess_specs.items()},
        }
        return json.dumps(doc, cls=self._encoder, separators=(",", ":"))

    def load_specs(self, text: str) -> tuple[Any, dict[str, Any]]:
        doc = json.loads(text)
        spec = self.registry.restore(doc["spec"])
        subs = {k: self.registry.restore(v) for k, v in doc["subprocess_specs"].items()}
        return spec, subs

    # -- instance state -----------------------------------------------------------------

    def dump_state(self, workflow: BpmnWorkflow) -> str:
        if _make_encoder is None or type(workflow) is not BpmnWorkflow:
            return self.dump_state_reference(workflow)
        return _StateWriter(self._state_registry, self._state_json.default).workflow(workflow)

    def dump_state_reference(self, workflow: BpmnWorkflow) -> str:
        """The state through SpiffWorkflow's converters: what `dump_state` must equal."""
        return self._state_json.encode(self._state_registry.convert(workflow))

    def load_state(
        self,
        text: str,
        version: str,
        spec: Any,
        subprocess_specs: dict[str, Any],
        script_engine: Any,
    ) -> BpmnWorkflow:
        dct = json.loads(text)
        if version != SPIFF_STATE_VERSION:
            # Old formats need SpiffWorkflow's migrations; they expect the specs inline.
            dct["spec"] = self.registry.convert(spec)
            dct["subprocess_specs"] = {
                k: self.registry.convert(v) for k, v in subprocess_specs.items()
            }
            if version in MIGRATIONS:
                MIGRATIONS[version](dct)
            dct.pop("spec")
            dct.pop("subprocess_specs")
        workflow = self.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
        workflow.script_engine = script_engine
        return workflow

    def dump_data(self, data: Any) -> str:
        """Plain JSON for data we store outside Spiff's state (drafts, history payloads)."""
        if _make_encoder is None:
            return self._data_encoder.encode(data)
        # What `self._data_encoder.encode` does, minus its Python frames (several per
        # step): the same C encoder and arguments, fresh circular-reference markers.
        chunks = _make_encoder(
            {}, self._data_encoder.default, _quote_unicode, None, ":", ",", False, False, True
        )
        return "".join(chunks(data, 0))

    def load_data(self, text: str | None) -> Any:
        if text is None:
            return None
        return self.registry.restore(json.loads(text))
