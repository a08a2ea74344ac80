"""Test doubles for the client: a scripted HTTP server (MockTransport), fake time, bodies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx

from mediapost import CallIdClock, Credentials, MediaPostClient, RetryPolicy

API_KEY = "77a52842357422fadd912a2600e6e53c"
SECRET = "Sup3rS3cretValue-42"
SESSION_KEY = "489727d0ab2efc6e8003018c-i2LLkn8BDb2s."
COMMUNITY = "mycommunity"
ENDPOINT = "http://mediapost.test/api.php"

CREDENTIALS = Credentials(
    api_key=API_KEY, secret=SECRET, session_key=SESSION_KEY, community=COMMUNITY
)

PHOTO_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<photos_upload_response>\n'
    b"  <pid>940915697041656</pid>\n  <aid>940915667462717</aid>\n  <owner>219074</owner>\n"
    b"  <src>http://media.test/s.jpg</src>\n  <src_big>http://media.test/n.jpg</src_big>\n"
    b"  <src_small>http://media.test/t.jpg</src_small>\n  <link>http://media.test/p</link>\n"
    b"  <caption>Under the sunset</caption>\n</photos_upload_response>\n"
)

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def error_xml(code: int, message: str, args: dict[str, str] | None = None) -> bytes:
    """An error body shaped like the contract's, echoing request arguments as the server does."""
    echoed = "".join(
        f"<arg><key>{k}</key><value>{v}</value></arg>" for k, v in (args or {}).items()
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<error_response>'
        f"<error_code>{code}</error_code><error_msg>{message}</error_msg>"
        f'<request_args list="true">{echoed}</request_args></error_response>'
    ).encode()


def ok(body: bytes, status: int = 200) -> httpx.Response:
    """A response with this body."""
    return httpx.Response(status, content=body)


@dataclass
class Server:
    """A scripted server: answers each request with the next step, and keeps every request."""

    steps: list[Step]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def form(self, n: int = -1) -> dict[str, str]:
        """The parameters of a form-urlencoded request."""
        return dict(parse_qsl(self.requests[n].content.decode("ascii"), keep_blank_values=True))


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(time: FakeTime, **overrides: float) -> RetryPolicy:
    """A retry policy on fake time with a deterministic draw (the top of the jitter window)."""
    settings: dict[str, float] = {
        "max_attempts": 5,
        "initial_wait": 1.0,
        "max_wait": 8.0,
        "budget": 60.0,
    }
    settings.update(overrides)
    return RetryPolicy(
        max_attempts=int(settings["max_attempts"]),
        initial_wait=settings["initial_wait"],
        max_wait=settings["max_wait"],
        budget=settings["budget"],
        sleep=time.sleep,
        clock=time.clock,
        jitter=lambda low, high: high,
    )


def client_for(
    server: Server,
    *,
    time: FakeTime | None = None,
    credentials: Credentials = CREDENTIALS,
    call_ids: CallIdClock | None = None,
    attempts: int = 5,
    budget: float = 60.0,
    transport: httpx.BaseTransport | None = None,
    **kwargs: object,
) -> MediaPostClient:
    """A client whose HTTP goes to the scripted server and whose retries sleep on fake time."""
    http = httpx.Client(transport=transport or httpx.MockTransport(server))
    return MediaPostClient(
        ENDPOINT,
        credentials,
        http=http,
        retry=policy(time or FakeTime(), max_attempts=attempts, budget=budget),
        call_ids=call_ids or CallIdClock(),
        **kwargs,  # type: ignore[arg-type]
    )
