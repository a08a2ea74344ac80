"""Fault injection: which call fails, is dropped or stalls, decided with an injected RNG and clock.

Rules are plain values so they can come from the config, the CLI or the admin endpoint. The
decisions are pure: the caller passes `now`, and the RNG is seedable so a test can predict exactly
which calls fail. Kinds of fault:

- an `error` rule answers an API error code instead of running the method;
- a `drop` rule runs the method (the photo is stored), then closes the connection unanswered;
- a `stall` rule runs the method, then waits `seconds` before answering;
- a `delay` rule waits `seconds` before running the method (a server slow to store an upload,
  while other calls answer at once, unlike the global `latency_ms`);
- the request-limit window answers code 4 past `max_calls` per `window_s` per application, and
  `block` answers code 4 to every call for a while.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

UPLOAD_METHOD = "up.photos.upload"
ALL_METHODS = "*"
ACTIONS = ("error", "drop", "stall", "delay")

Action = Literal["error", "drop", "stall", "delay"]


class FaultSpecError(ValueError):
    """A fault rule or setting given to the admin endpoint or the CLI is invalid."""


@dataclass
class FaultRule:
    """One fault: what happens, to which calls (methods, filename part), how often, how many."""

    action: Action = "error"
    code: int = 2
    rate: float = 1.0
    methods: tuple[str, ...] = (UPLOAD_METHOD,)
    filename: str | None = None
    count: int | None = None
    seconds: float = 0.0
    message: str | None = None

    def __post_init__(self) -> None:
        self.methods = tuple(self.methods)
        if self.action not in ACTIONS:
            raise FaultSpecError(f"action must be one of {', '.join(ACTIONS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise FaultSpecError("rate must be between 0 and 1")
        if self.count is not None and self.count < 0:
            raise FaultSpecError("count must be >= 0")
        if self.seconds < 0:
            raise FaultSpecError("seconds must be >= 0")

    def matches(self, method: str, filename: str | None) -> bool:
        """Whether this rule applies to a call of `method` carrying a file named `filename`."""
        if ALL_METHODS not in self.methods and method not in self.methods:
            return False
        if self.filename is not None:
            return filename is not None and self.filename in filename
        return True

    def to_json(self) -> dict[str, Any]:
        """The rule as the admin endpoint shows it."""
        data = asdict(self)
        data["methods"] = list(self.methods)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from admin JSON; unknown keys and wrong types are errors, not ignored."""
        known = {"action", "code", "rate", "methods", "filename", "count", "seconds", "message"}
        unknown = set(data) - known
        if unknown:
            raise FaultSpecError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        try:
            methods = data.get("methods", [UPLOAD_METHOD])
            if isinstance(methods, str):
                methods = [methods]
            count = data.get("count")
            filename = data.get("filename")
            message = data.get("message")
            return cls(
                action=cast(Action, str(data.get("action", "error"))),
                code=int(data.get("code", 2)),
                rate=float(data.get("rate", 1.0)),
                methods=tuple(str(m) for m in methods),
                filename=None if filename is None else str(filename),
                count=None if count is None else int(count),
                seconds=float(data.get("seconds", 0.0)),
                message=None if message is None else str(message),
            )
        except FaultSpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(f"invalid fault rule: {exc}") from exc


@dataclass(frozen=True)
class RateLimit:
    """At most `max_calls` API calls per application in each fixed window of `window_s` seconds."""

    max_calls: int
    window_s: float

    def __post_init__(self) -> None:
        if self.max_calls < 0 or self.window_s <= 0:
            raise FaultSpecError("rate limit needs max_calls >= 0 and window_s > 0")


@dataclass
class FaultSettings:
    """The faults an emulator starts with (and returns to on reset)."""

    rules: list[FaultRule] = field(default_factory=list)
    latency_ms: float = 0.0
    rate_limit: RateLimit | None = None


def parse_fault_option(text: str) -> FaultRule:
    """Parse the CLI's `CODE=RATE` (e.g. `2=0.05`) into an error rule for uploads."""
    code, sep, rate = text.partition("=")
    try:
        return FaultRule(code=int(code), rate=float(rate) if sep else 1.0)
    except ValueError as exc:
        raise FaultSpecError(f"expected CODE=RATE like 2=0.05, got {text!r}") from exc


class Faults:
    """The live fault state of one emulator: rules with their remaining counts, windows, RNG."""

    def __init__(self, settings: FaultSettings, rng: random.Random) -> None:
        # Copies: counts are used up here, and a reset must find the configured ones intact.
        self.rules = [FaultRule(**asdict(rule)) for rule in settings.rules]
        self.latency_ms = settings.latency_ms
        self.rate_limit = settings.rate_limit
        self.rng = rng
        self.blocked_until = 0.0
        self._windows: dict[str, tuple[float, int]] = {}

    def pick(
        self, actions: Iterable[Action], method: str, filename: str | None
    ) -> FaultRule | None:
        """The first rule among `actions` that fires for this call (using up one of its count)."""
        wanted = set(actions)
        for rule in self.rules:
            if rule.action not in wanted or not rule.matches(method, filename):
                continue
            if rule.count is not None and rule.count <= 0:
                continue
            # Draw only for fractional rates: adding a rate-1 rule keeps a seeded sequence intact.
            if rule.rate >= 1.0 or (rule.rate > 0.0 and self.rng.random() < rule.rate):
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    def over_limit(self, app_key: str, now: float) -> bool:
        """Whether this call must get code 4; counts it against the application's window if not."""
        if now < self.blocked_until:
            return True
        if self.rate_limit is None:
            return False
        start, calls = self._windows.get(app_key, (now, 0))
        if now - start >= self.rate_limit.window_s:
            start, calls = now, 0
        if calls >= self.rate_limit.max_calls:
            self._windows[app_key] = (start, calls)
            return True
        self._windows[app_key] = (start, calls + 1)
        return False

    def block(self, seconds: float, now: float) -> None:
        """Answer code 4 to every call for the next `seconds` (0 lifts the block)."""
        self.blocked_until = now + seconds if seconds > 0 else 0.0

    def set_rate_limit(self, limit: RateLimit | None) -> None:
        """Replace the request-limit window and forget the calls counted so far."""
        self.rate_limit = limit
        self._windows.clear()

    def to_json(self, now: float) -> dict[str, Any]:
        """The fault state as the admin endpoint shows it."""
        limit = self.rate_limit
        return {
            "latency_ms": self.latency_ms,
            "rules": [rule.to_json() for rule in self.rules],
            "rate_limit": None
            if limit is None
            else {"max_calls": limit.max_calls, "window_s": limit.window_s},
            "blocked_for_s": max(0.0, self.blocked_until - now),
        }

    def update(self, payload: Mapping[str, Any], now: float) -> None:
        """Apply an admin update (clear, latency_ms, rules, add_rules, rate_limit, block_s, seed).

        `clear` starts from no faults at all; the other keys then apply on top, so
        `{"clear": true, "rules": [...]}` replaces everything in one call.
        """
        known = {"clear", "latency_ms", "rules", "add_rules", "rate_limit", "block_s", "seed"}
        unknown = set(payload) - known
        if unknown:
            raise FaultSpecError(f"unknown keys: {', '.join(sorted(unknown))}")
        clear = bool(payload.get("clear"))
        try:
            base = [] if clear else self.rules_json()
            rules = [FaultRule.from_json(r) for r in payload.get("rules", base)]
            rules += [FaultRule.from_json(r) for r in payload.get("add_rules", [])]
            latency = float(payload.get("latency_ms", 0.0 if clear else self.latency_ms))
            limit = None if clear else self.rate_limit
            if payload.get("rate_limit") is not None:
                raw = payload["rate_limit"]
                limit = RateLimit(int(raw["max_calls"]), float(raw["window_s"]))
            elif "rate_limit" in payload:
                limit = None
            block_s = payload.get("block_s")
            block = None if block_s is None else float(block_s)
            seed = payload.get("seed")
            new_seed = None if seed is None else int(seed)
        except FaultSpecError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise FaultSpecError(f"invalid fault settings: {exc!r}") from exc
        if latency < 0:
            raise FaultSpecError("latency_ms must be >= 0")
        self.rules = rules
        self.latency_ms = latency
        if limit != self.rate_limit:
            self.set_rate_limit(limit)
        if clear:
            self.block(0, now)
        if block is not None:
            self.block(block, now)
        if new_seed is not None:
            self.rng.seed(new_seed)

    def rules_json(self) -> list[dict[str, Any]]:
        """The current rules as JSON; an update without `rules` keeps them, counts included."""
        return [rule.to_json() for rule in self.rules]
