"""The one retry policy of the client: which failures are retried, how long to wait, when to stop.

Retried: ``TransientError`` (codes 1, 2, transport faults where nothing was applied, HTTP 5xx)
with full-jitter exponential backoff, and ``CallIdRejected`` (103) at once. ``OutcomeInDoubt``
is retried only for idempotent calls; for an upload it goes straight to the caller, who must
reconcile. Everything else (rate limit, session, album, file, configuration) is the caller's.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from mediapost.errors import CallIdRejected, MediaPostError, OutcomeInDoubt, TransientError

log = structlog.get_logger(__name__)

T = TypeVar("T")


class _StopBeforeBudget(stop_base):
    """tenacity's ``stop_before_delay``, on our own clock so tests can fake time."""

    def __init__(self, budget: float, clock: Callable[[], float], start: float) -> None:
        self.budget = budget
        self.clock = clock
        self.start = start

    def __call__(self, retry_state: RetryCallState) -> bool:
        elapsed = self.clock() - self.start
        return elapsed + retry_state.upcoming_sleep >= self.budget


class _Backoff(wait_base):
    """``wait_random_exponential`` (AWS full jitter) with an injectable draw; 0 after a 103."""

    def __init__(
        self, initial: float, maximum: float, jitter: Callable[[float, float], float]
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), CallIdRejected):
            return 0.0
        high = min(self.maximum, self.initial * 2 ** (retry_state.attempt_number - 1))
        return self.jitter(0.0, high)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, how long to wait between them, and the total time budget of a call."""

    max_attempts: int = 4
    initial_wait: float = 0.5
    max_wait: float = 8.0
    budget: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @staticmethod
    def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
        """True for failures where nothing was applied, and for doubt on idempotent calls."""
        if isinstance(exc, TransientError):
            return True
        return idempotent and isinstance(exc, OutcomeInDoubt)

    def retrying(self, *, method: str, idempotent: bool) -> Retrying:
        """A fresh tenacity controller for one call (the budget starts now)."""

        def log_retry(retry_state: RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            log.warning(
                "api.retry",
                method=method,
                attempt=retry_state.attempt_number,
                code=getattr(exc, "code", None),
                error=type(exc).__name__,
                wait_s=round(retry_state.upcoming_sleep, 3),
            )

        return Retrying(
            sleep=self.sleep,
            stop=stop_after_attempt(self.max_attempts)
            | _StopBeforeBudget(self.budget, self.clock, self.clock()),
            wait=_Backoff(self.initial_wait, self.max_wait, self.jitter),
            retry=retry_if_exception(lambda exc: self.is_retryable(exc, idempotent=idempotent)),
            before_sleep=log_retry,
            reraise=True,
        )

    def run(self, attempt: Callable[[], T], *, method: str, idempotent: bool) -> tuple[T, int]:
        """Call ``attempt`` until it succeeds or the policy gives up; return (result, attempts).

        ``attempt`` must build its request afresh (call_id, signature, file rewound). The final
        MediaPostError is re-raised as is, with ``attempts`` set on it.
        """
        attempts = 0

        def counted() -> T:
            nonlocal attempts
            attempts += 1
            return attempt()

        try:
            result = self.retrying(method=method, idempotent=idempotent)(counted)
        except MediaPostError as exc:
            exc.attempts = attempts
            raise
        return result, attempts
