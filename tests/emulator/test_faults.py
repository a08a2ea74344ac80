"""Fault decisions as pure logic: seeded RNG, counts, filename and method matching, windows."""

from __future__ import annotations

import random

import pytest

from emulator.faults import (
    FaultRule,
    Faults,
    FaultSettings,
    FaultSpecError,
    RateLimit,
    parse_fault_option,
)

UPLOAD = "up.photos.upload"


def faults(*rules: FaultRule, limit: RateLimit | None = None, seed: int = 1) -> Faults:
    """A fault engine with these rules and a seeded RNG."""
    return Faults(FaultSettings(rules=list(rules), rate_limit=limit), random.Random(seed))


def fired(engine: Faults, n: int, filename: str | None = "a.jpg") -> list[bool]:
    """Whether an error rule fires on each of n upload calls."""
    return [engine.pick(["error"], UPLOAD, filename) is not None for _ in range(n)]


def test_same_seed_same_failures() -> None:
    """A fractional rate is drawn from the seeded RNG, so a seed fixes the sequence."""
    first = fired(faults(FaultRule(rate=0.3), seed=9), 50)
    assert first == fired(faults(FaultRule(rate=0.3), seed=9), 50)
    assert 5 < sum(first) < 30


def test_count_limits_how_often_a_rule_fires() -> None:
    """count=N fires N times, then never."""
    assert fired(faults(FaultRule(count=2)), 4) == [True, True, False, False]


def test_filename_rule_needs_a_matching_file() -> None:
    """A filename rule matches a substring of the data part's filename, never a call without one."""
    engine = faults(FaultRule(filename="bad"))
    assert fired(engine, 1, "very-bad.jpg") == [True]
    assert fired(engine, 1, "good.jpg") == [False]
    assert fired(engine, 1, None) == [False]


def test_rules_default_to_uploads_only() -> None:
    """Other methods are untouched unless listed (or '*')."""
    engine = faults(FaultRule())
    assert engine.pick(["error"], "up.photos.get", None) is None
    assert faults(FaultRule(methods=("*",))).pick(["error"], "up.photos.get", None) is not None


def test_actions_are_picked_separately() -> None:
    """An error rule is not a drop rule, and the other way round."""
    engine = faults(FaultRule(action="drop"))
    assert engine.pick(["error"], UPLOAD, None) is None
    rule = engine.pick(["drop", "stall"], UPLOAD, None)
    assert rule is not None and rule.action == "drop"


def test_window_allows_n_calls_per_application_then_resets() -> None:
    """max_calls per window_s per app; a new window starts once the old one has passed."""
    engine = faults(limit=RateLimit(max_calls=2, window_s=10))
    assert [engine.over_limit("k", 100.0 + i) for i in range(3)] == [False, False, True]
    assert engine.over_limit("other", 103.0) is False
    assert engine.over_limit("k", 110.0) is False


def test_block_answers_4_until_it_ends() -> None:
    """block(s) covers every call until now + s."""
    engine = faults()
    engine.block(5, now=100.0)
    assert engine.over_limit("k", 104.9) is True
    assert engine.over_limit("k", 105.0) is False


def test_update_validates_and_clear_starts_from_nothing() -> None:
    """Admin updates reject unknown keys; clear drops rules, latency and windows."""
    engine = faults(FaultRule(), limit=RateLimit(1, 1))
    with pytest.raises(FaultSpecError):
        engine.update({"latency": 5}, now=0)
    engine.update({"clear": True, "add_rules": [{"code": 4, "count": 1}]}, now=0)
    assert [r.code for r in engine.rules] == [4]
    assert engine.rate_limit is None and engine.latency_ms == 0


def test_cli_fault_option_parses_code_and_rate() -> None:
    """`--fault 2=0.05` is an upload error rule with that rate."""
    rule = parse_fault_option("2=0.05")
    assert (rule.action, rule.code, rule.rate, rule.methods) == ("error", 2, 0.05, (UPLOAD,))
    with pytest.raises(FaultSpecError):
        parse_fault_option("2=high")
