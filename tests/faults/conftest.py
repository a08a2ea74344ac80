"""Fixtures of the fault suite, and the table of scenarios printed at the end of the run."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from emulator.config import EmulatorConfig
from emulator.server import RunningEmulator, run_in_thread
from tests.faults.harness import FAST_ENV, FaultStack, Row
from tests.faults.redis_server import RedisServer

ROWS = pytest.StashKey[list[Row]]()

MakeStack = Callable[[str], FaultStack]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that names a scenario in the table."""
    config.addinivalue_line("markers", "scenario(name): the scenario's name in the summary table")


def scenario_name(item: pytest.Item) -> str:
    """The scenario's short name (its marker, plus the parameter id), or the test's name."""
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return item.name.removeprefix("test_")
    callspec = getattr(item, "callspec", None)
    return f"{marker.args[0]} [{callspec.id}]" if callspec is not None else str(marker.args[0])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so the row fixture knows how the test ended."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A fresh emulator on a free port, in a thread of the test process."""
    with run_in_thread(EmulatorConfig(port=0, data_dir=tmp_path / "emulator", seed=7)) as emu:
        yield emu


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Our own redis-server with append-only persistence, which a scenario may kill."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def make_stack(
    request: pytest.FixtureRequest, tmp_path: Path, emulator: RunningEmulator
) -> Iterator[MakeStack]:
    """Build the scenario's stack on a Redis URL; stops its processes and files its row."""
    made: list[FaultStack] = []
    name = scenario_name(request.node)

    def make(redis_url: str) -> FaultStack:
        client = redis_lib.Redis.from_url(redis_url, decode_responses=True)
        client.flushdb()
        root = tmp_path / "stack"
        root.mkdir(exist_ok=True)
        env = {
            **FAST_ENV,
            "MEDIAPOST_ENDPOINT": emulator.url,
            "REDIS_URL": redis_url,
            "MEDIAPOST_STATE_DIR": str(root / "state"),
        }
        stack = FaultStack(root, redis_url, emulator.url, client, env=env, row=Row(name))
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()
        call = getattr(request.node, "rep_call", None)
        stack.row.result = "pass" if call is not None and call.passed else "FAIL"
        request.config.stash.setdefault(ROWS, []).append(stack.row)
        stack.redis.close()


@pytest.fixture
def stack(make_stack: MakeStack, redis_url: str) -> FaultStack:
    """The stack on the shared Redis server's test database."""
    return make_stack(redis_url)


@pytest.fixture
def private_stack(private_redis: RedisServer, make_stack: MakeStack) -> FaultStack:
    """The stack on a private redis-server that the scenario may restart (stopped after it)."""
    return make_stack(private_redis.url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the table of scenarios (never written to a file: generated output is not kept)."""
    rows = terminalreporter.config.stash.get(ROWS, [])
    if not rows:
        return
    tr = terminalreporter
    tr.section("fault scenarios")
    header = ("scenario", "files", "uploaded", "duplicates", "set aside", "drain (bound)", "result")
    tr.write_line("| " + " | ".join(header) + " |")
    tr.write_line("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        drain = "-" if r.drain_s is None else f"{r.drain_s:.1f} s"
        if r.bound_s is not None:
            drain += f" (≤ {r.bound_s:.0f} s)"
        cells = (r.scenario, r.files, r.uploaded, r.duplicates, r.set_aside, drain, r.result)
        tr.write_line("| " + " | ".join(str(c) for c in cells) + " |")
