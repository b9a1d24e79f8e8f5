"""Setting a context variable for the length of a `with` block.

The engine makes two things visible to code SpiffWorkflow calls back into during a step —
the step's clock (`spiff_clock`) and the step itself (`services`) — through context
variables. Both are set in every step, so the binding is a small class rather than a
`@contextmanager` generator, which costs several times as much to enter and leave.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Generic, TypeVar

T = TypeVar("T")


class Binding(Generic[T]):
    """`with Binding(var, value):` — `var` holds `value` inside the block, and what it held
    before afterwards (also when the block raises)."""

    __slots__ = ("_token", "_value", "_var")

    def __init__(self, var: ContextVar[T], value: T) -> None:
        self._var = var
        self._value = value

    def __enter__(self) -> None:
        self._token: Token[T] = self._var.set(self._value)

    def __exit__(self, *exc: object) -> None:
        self._var.reset(self._token)
