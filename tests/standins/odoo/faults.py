"""Fault injection: the knobs tests turn (``FakeOdoo.inject``, ``FakeOdoo.hold_create``).

:class:`FaultPlan` picks the fault of one request (rate, method filter, seeded
RNG, budget); :class:`Gate` holds one request at a point until released.
"""

from __future__ import annotations

import random
import threading

from .errors import OdooError, user_error
from .fields import MODEL

FAULTS = frozenset({"refused", "timeout", "http500", "access_error", "validation_error", "drop_after_commit"})


class Gate:
    """A test hook that holds one request at a point until released (``hold``)."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.reached = threading.Event()
        self._go = threading.Event()
        self.timeout_s = timeout_s

    def pause(self) -> None:
        self.reached.set()
        self._go.wait(self.timeout_s)

    def release(self) -> None:
        self._go.set()

    def wait_reached(self, timeout_s: float = 30.0) -> None:
        if not self.reached.wait(timeout_s):
            raise TimeoutError("the held request never arrived")


class FaultPlan:
    """The current fault, its rate, method filter, seeded RNG and budget."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fault: str | None = None
        self.rate = 1.0
        self.methods: frozenset[str] | None = None
        self.rng = random.Random()
        self.times: int | None = None
        self.hang_s = 30.0

    def set(self, fault: str | None, rate: float, methods, seed, times: int | None, hang_s: float) -> None:
        """Replace the plan (``fault=None`` clears it)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(FAULTS)}")
        with self.lock:
            self.fault, self.rate, self.times, self.hang_s = fault, rate, times, hang_s
            self.methods = frozenset(methods) if methods else None
            self.rng = random.Random(seed)

    def pick(self, method: str) -> str | None:
        """The fault to apply to one request for ``method``, if any."""
        with self.lock:
            if self.fault is None or (self.methods and method not in self.methods):
                return None
            if self.times is not None and self.times <= 0:
                return None
            if self.rng.random() >= self.rate:
                return None
            if self.times is not None:
                self.times -= 1
            return self.fault


def injected_error(fault: str) -> OdooError:
    """The error an ``access_error``/``validation_error`` fault raises."""
    if fault == "access_error":
        return user_error("AccessError", f"You are not allowed to access 'Lead' ({MODEL}) records. (injected fault)")
    return user_error("ValidationError", "Injected validation error (stand-in fault).")
