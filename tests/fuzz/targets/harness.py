"""What every fuzz target asserts: a parser returns a value or raises the project's typed error carrying a code.

``coded(fn, *args)`` calls one parser step and answers its value, or ``None`` when the step refused the input with a
coded error (the edge's ``EdgeError`` with a non-empty code, the contract's ``ChaincodeError`` with a member of its
``Code`` enum or of the runtime's codes). Any other exception escapes, and atheris reports it as a crash with the
input that caused it.

This module imports nothing of the project at import time: ``run_target`` imports the parsers inside atheris's
instrumentation hook, and a module imported earlier would not be instrumented.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def is_coded(exc: BaseException) -> bool:
    from vpp_edge.errors import EdgeError

    if isinstance(exc, EdgeError):
        return isinstance(exc.code, str) and bool(exc.code) and exc.code != EdgeError.code
    try:
        from fabric_ccaas import ChaincodeError
    except ImportError:  # an edge-only target does not load the contract
        return False
    return isinstance(exc, ChaincodeError) and isinstance(exc.code, enum.Enum) and str(exc).startswith(
        f"{exc.code.value}: ")


def coded(step: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    try:
        return step(*args, **kwargs)
    except Exception as exc:
        if is_coded(exc):
            return None
        raise


def check_integer(value: object, what: str) -> None:
    """The project's rule: energy, power and money leave a parser as integers, never as floats or bools."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AssertionError(f"{what} is {type(value).__name__} {value!r}, not an integer")
