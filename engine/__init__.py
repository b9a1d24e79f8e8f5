"""Kedja's generic BPM runtime on SpiffWorkflow; it knows nothing of crime prevention."""

from .actors import Actor, OpenDirectory, system_actor
from .clock import SimulatedClock, SystemClock
from .engine import Engine
from .errors import (
    Conflict,
    DamagedState,
    InvalidState,
    KedjaError,
    NotFound,
    NotPermitted,
    Problem,
    ScriptError,
    ValidationError,
)

__all__ = [
    "Actor",
    "Conflict",
    "DamagedState",
    "Engine",
    "InvalidState",
    "KedjaError",
    "NotFound",
    "NotPermitted",
    "OpenDirectory",
    "Problem",
    "ScriptError",
    "SimulatedClock",
    "SystemClock",
    "ValidationError",
    "system_actor",
]
