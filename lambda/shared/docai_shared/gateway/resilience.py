"""Retries with jittered backoff and a circuit breaker per provider.

Only what can succeed on a second try is retried: throttling (``Throttled``), 5xx and timeouts
(``TransientError``). An endpoint with no capacity yet (``EndpointNotReady``: scaling out from zero
takes minutes) is waited for while the request's deadline allows, then given up so the caller can
degrade. Bad requests (``PermanentError``) are never retried.

Backoff is "full jitter": sleep a random time in [0, min(cap, base * 2**attempt)]
(https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/).
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from docai_shared.errors import EndpointNotReady, PermanentError, Throttled, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0
    # How long an endpoint scaling from zero is waited for within one request (0: degrade at once).
    not_ready_wait_s: float = 0.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, received {self.max_attempts}")


@dataclass
class Attempt:
    provider: str
    outcome: str  # ok | throttled | transient | not_ready | permanent | breaker_open
    latency_ms: float
    error: str | None = None


class CircuitOpen(TransientError):
    """The provider's breaker is open: it is skipped without a call until the cool-down ends."""


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failed calls; after ``open_s`` lets one trial
    call through (half-open); a success closes it, a failure opens it again.

    State lives in the Lambda execution environment: each warm instance learns on its own, which is
    what bounds the calls one instance sends to a failing provider."""

    def __init__(self, name: str, failure_threshold: int = 5, open_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.name, self.failure_threshold, self.open_s, self.clock = name, failure_threshold, open_s, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.open_s else "open"

    def before_call(self) -> None:
        with self._lock:
            state = self.state
            if state == "open" or (state == "half-open" and self._trial_in_flight):
                raise CircuitOpen(f"circuit breaker of {self.name} is open after {self.failures} consecutive failures")
            if state == "half-open":
                self._trial_in_flight = True

    def record(self, ok: bool) -> None:
        with self._lock:
            self._trial_in_flight = False
            if ok:
                self.failures, self.opened_at = 0, None
                return
            self.failures += 1
            if self.failures >= self.failure_threshold or self.opened_at is not None:
                self.opened_at = self.clock()


@dataclass
class Deadline:
    """The time left for one request (the API's integration timeout, the Lambda's remaining time)."""

    ends_at: float
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return max(0.0, self.ends_at - self.clock())


def _outcome(error: Exception) -> str:
    if isinstance(error, CircuitOpen):
        return "breaker_open"
    if isinstance(error, EndpointNotReady):
        return "not_ready"
    if isinstance(error, Throttled):
        return "throttled"
    if isinstance(error, PermanentError):
        return "permanent"
    return "transient"


def call_with_retries(
    provider: str,
    fn: Callable[[], T],
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    deadline: Deadline,
    attempts: list[Attempt],
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Calls ``fn`` through the breaker, retrying what may succeed later; appends one ``Attempt`` per
    call to ``attempts``. Raises the last error when retries, the not-ready wait or the deadline run out."""
    rng = rng or random.Random()
    waited_not_ready = 0.0
    attempt = 0
    while True:
        started = clock()
        try:
            breaker.before_call()
        except CircuitOpen as e:
            attempts.append(Attempt(provider, "breaker_open", 0.0, str(e)))
            raise
        try:
            result = fn()
        except Exception as e:  # classified below; anything unknown counts as transient
            error = e if isinstance(e, (PermanentError, TransientError)) else TransientError(f"{type(e).__name__}: {e}")
            outcome = _outcome(error)
            attempts.append(Attempt(provider, outcome, round((clock() - started) * 1000, 1), str(error)[:300]))
            # A bad request says nothing about the provider's health.
            breaker.record(ok=isinstance(error, PermanentError))
            if isinstance(error, PermanentError):
                raise error from e
            attempt += 1
            if isinstance(error, EndpointNotReady):
                delay = min(policy.max_delay_s * 2, max(policy.base_delay_s, 1.0))
                if waited_not_ready + delay > policy.not_ready_wait_s or delay >= deadline.remaining():
                    raise error from e
                waited_not_ready += delay
            else:
                if attempt >= policy.max_attempts:
                    raise error from e
                delay = rng.uniform(0, min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1)))
                if delay >= deadline.remaining():
                    raise error from e
            sleep(delay)
            continue
        attempts.append(Attempt(provider, "ok", round((clock() - started) * 1000, 1)))
        breaker.record(ok=True)
        return result
