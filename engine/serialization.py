"""SpiffWorkflow state <-> JSON text, the one place that knows the serializer.

Three decisions live here:

* The serializer is SpiffWorkflow's `BpmnWorkflowSerializer` configured with `SPIFF_CONFIG`
  (SpiffArena's extensions: forms, pre/post scripts, service tasks), so a model made for
  SpiffArena runs unchanged.
* Specs are stored once per process definition, not in every instance: the instance state
  holds only the task tree and data. That keeps a step's write small and constant.
* Stored states carry the serializer version. `from_dict` does not migrate old formats by
  itself (a known trap), so `load_workflow` runs SpiffWorkflow's migrations explicitly when
  the stored version is older than the running one.

Task data may hold datetimes, dates and decimals (form answers, calendar dates); they are
encoded with the serializer's own encoder and come back as the same types.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_STATE_VERSION
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

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
        return self._data_encoder.encode(data)

    def load_data(self, text: str | None) -> Any:
        if text is None:
            return None
        return self.registry.restore(json.loads(text))
