"""The aiohttp handler for /api.php: read, add latency, process, apply drop/stall, answer."""

from __future__ import annotations

import asyncio

from aiohttp import web

from emulator.api import Outcome, error_outcome, process
from emulator.errors import ApiError
from emulator.intake import Call, IntakeError, read_call
from emulator.render import content_type, render_error, render_result
from emulator.state import STATE_KEY


async def api_endpoint(request: web.Request) -> web.StreamResponse:
    """Serve one API call the way the real service would, counting the calls in flight."""
    counters = request.app[STATE_KEY].counters
    counters.in_flight += 1
    counters.peak_in_flight = max(counters.peak_in_flight, counters.in_flight)
    try:
        return await _serve(request)
    finally:
        counters.in_flight -= 1


async def _serve(request: web.Request) -> web.StreamResponse:
    """Serve one API call the way the real service would, faults included."""
    state = request.app[STATE_KEY]
    call: Call | None = None
    try:
        call = await read_call(request, state.incoming_dir, state.config)
    except IntakeError as exc:
        outcome = error_outcome(state, Call(exc.params), ApiError(exc.code, f"({exc.detail})"))
    try:
        # The service's processing time: after the body arrived, before the answer.
        if state.faults.latency_ms > 0:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        if call is not None and (slow := state.faults.pick(("delay",), call.method, call.filename)):
            await asyncio.sleep(slow.seconds)
        if call is not None:
            state.counters.bytes_received += call.received_bytes
            outcome = process(state, call, f"{request.scheme}://{request.host}")
    finally:
        if call is not None and call.upload is not None:
            call.upload.discard()
    after = outcome.after
    if after is not None and after.action == "drop":
        state.counters.dropped += 1
        _drop_connection(request)
        return web.Response(status=204)
    if after is not None and after.action == "stall":
        state.counters.stalled += 1
        await asyncio.sleep(after.seconds)
    return _respond(outcome)


def _respond(outcome: Outcome) -> web.Response:
    if outcome.error is not None:
        body = render_error(outcome.error.code, outcome.error.message, outcome.args, outcome.fmt)
    else:
        assert outcome.result is not None
        body = render_result(outcome.method, outcome.result, outcome.fmt)
    return web.Response(body=body, headers={"Content-Type": content_type(outcome.fmt)})


def _drop_connection(request: web.Request) -> None:
    """Close the socket without a response, as a crashed front end or a broken network would."""
    transport = request.transport
    if transport is not None:
        transport.abort()
