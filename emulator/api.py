"""The checks every API call passes, in order, before its method runs (contract §2, §5).

Order: method known (112) → upload sent as multipart (100) → api key (101) → signature (104) →
request limit (4) → injected error faults → community (100) → session (102) → call_id (100/103)
→ the method itself. A missing `api_key` counts as an unknown key (101) and a missing `sig` as an
incorrect signature (104): both are configuration errors, and the client stops on those codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from emulator.errors import (
    BAD_CALL_ID,
    BAD_PARAMETER,
    BAD_SESSION,
    BAD_SIGNATURE,
    REQUEST_LIMIT,
    UNKNOWN_API_KEY,
    UNKNOWN_METHOD,
    ApiError,
    message_for,
)
from emulator.faults import FaultRule
from emulator.intake import FILE_FIELD, Call
from emulator.methods import METHODS, CallContext, Method
from emulator.render import Result, response_format
from emulator.signature import signature_matches
from emulator.state import EmulatorState
from emulator.store import Application, Session

UPLOAD = "up.photos.upload"


@dataclass
class Outcome:
    """What to answer: a result or an error, and a drop/stall fault to apply after the work."""

    method: str
    fmt: str
    args: list[tuple[str, str]]
    result: Result | None = None
    error: ApiError | None = None
    after: FaultRule | None = field(default=None)


def process(state: EmulatorState, call: Call, base_url: str) -> Outcome:
    """Run one API call against the state; never raises an ApiError, returns it in the outcome."""
    params = _first_values(call.params)
    method = params.get("method", "")
    outcome = Outcome(
        method=method,
        fmt=response_format(params.get("format")),
        # Echo what was sent, like the service, but never the image part.
        args=[(k, v) for k, v in call.params if k != FILE_FIELD],
    )
    state.counters.requests[method or "(none)"] += 1
    try:
        outcome.result, outcome.after = _run(state, call, params, method, base_url)
    except ApiError as err:
        state.counters.errors[err.code] += 1
        outcome.error = err
    return outcome


def error_outcome(state: EmulatorState, call: Call, error: ApiError) -> Outcome:
    """An outcome for a request that failed before it could be processed (e.g. a bad body)."""
    params = _first_values(call.params)
    state.counters.requests[params.get("method") or "(none)"] += 1
    state.counters.errors[error.code] += 1
    return Outcome(
        method=params.get("method", ""),
        fmt=response_format(params.get("format")),
        args=[(k, v) for k, v in call.params if k != FILE_FIELD],
        error=error,
    )


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Parameters by name; if a name is repeated, its first value counts."""
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    return params


def _run(
    state: EmulatorState, call: Call, params: dict[str, str], method_name: str, base_url: str
) -> tuple[Result, FaultRule | None]:
    now = state.now()
    if not method_name:
        raise ApiError(BAD_PARAMETER, "(method is required)")
    method = METHODS.get(method_name)
    if method is None:
        raise ApiError(UNKNOWN_METHOD, f"({method_name})")
    if method_name == UPLOAD and not call.multipart:
        raise ApiError(BAD_PARAMETER, f"({UPLOAD} must be a multipart/form-data POST)")
    app = _application(state, call, params)
    if state.faults.over_limit(app.api_key, now):
        raise ApiError(REQUEST_LIMIT)
    filename = call.filename
    injected = state.faults.pick(("error",), method_name, filename)
    if injected is not None:
        raise ApiError(
            injected.code,
            message=injected.message or message_for(injected.code, "(injected by the emulator)"),
        )
    _check_community(state, params, method)
    session = _session(state, params, app, now) if method.needs_session else None
    ctx = CallContext(state, method_name, params, app, session, call.upload, now, base_url)
    result = method.handler(ctx)
    return result, state.faults.pick(("drop", "stall"), method_name, filename)


def _application(state: EmulatorState, call: Call, params: dict[str, str]) -> Application:
    api_key = params.get("api_key", params.get("apiKey"))
    if api_key is None:
        raise ApiError(UNKNOWN_API_KEY, "(no api_key parameter)")
    app = state.store.apps.get(api_key)
    if app is None:
        raise ApiError(UNKNOWN_API_KEY)
    sig = params.get("sig", params.get("apiSig"))
    if sig is None:
        raise ApiError(BAD_SIGNATURE, "(no sig parameter)")
    if not signature_matches(call.params, app.secret, sig):
        raise ApiError(BAD_SIGNATURE)
    return app


def _check_community(state: EmulatorState, params: dict[str, str], method: Method) -> None:
    community = params.get("community")
    if community is None:
        if method.needs_community:
            raise ApiError(BAD_PARAMETER, "(community is required)")
        return
    if community not in state.store.communities:
        raise ApiError(BAD_PARAMETER, f"(unknown community {community!r})")


def _session(state: EmulatorState, params: dict[str, str], app: Application, now: float) -> Session:
    key = params.get("session_key", "")
    session = state.store.valid_session(key, app.api_key, now) if key else None
    if session is None:
        raise ApiError(BAD_SESSION)
    if state.config.enforce_call_id:
        _check_call_id(session, params.get("call_id"))
    return session


def _check_call_id(session: Session, raw: str | None) -> None:
    """The ancestor's rule: each call of a session carries a call_id greater than the last one."""
    if raw is None or not raw.strip():
        raise ApiError(BAD_PARAMETER, "(call_id is required)")
    try:
        call_id = Decimal(raw.strip())
    except InvalidOperation as exc:
        raise ApiError(BAD_PARAMETER, "(call_id must be a decimal number)") from exc
    if not call_id.is_finite():
        raise ApiError(BAD_PARAMETER, "(call_id must be a decimal number)")
    if session.last_call_id is not None and call_id <= session.last_call_id:
        raise ApiError(BAD_CALL_ID, f"(previous call_id was {session.last_call_id})")
    session.last_call_id = call_id
