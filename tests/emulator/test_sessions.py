"""Sessions: the createToken → /login → getSession flow, expiry, minted keys and call_id order."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

from emulator.server import RunningEmulator
from tests.emulator.handmade import (
    API_KEY,
    COMMUNITY,
    DEMO_UID,
    call,
    error_code,
    signed,
    upload,
    xml,
)

Start = Callable[..., RunningEmulator]


def create_token(emu: RunningEmulator, **extra: str) -> str:
    """createToken as the auth guide spells it (apiKey, apiSig), as a GET."""
    params = signed(
        [
            ("method", "up.auth.createToken"),
            ("apiKey", API_KEY),
            ("community", COMMUNITY),
            *extra.items(),
        ],
        sig_name="apiSig",
    )
    root = xml(httpx.get(emu.url, params=dict(params)))
    assert root.tag == "auth_createToken_response"
    assert len(root) == 0
    return (root.text or "").strip()


def get_session(emu: RunningEmulator, token: str) -> httpx.Response:
    """getSession with api_key, sig and auth_token only."""
    params = signed([("method", "up.auth.getSession"), ("api_key", API_KEY), ("auth_token", token)])
    return httpx.post(emu.url, data=dict(params))


def test_token_login_and_session_flow_end_to_end(emu: RunningEmulator) -> None:
    """A token approved on the /login page becomes a working session for the chosen user."""
    token = create_token(emu)
    assert error_code(get_session(emu, token)) == 100  # not approved yet
    page = httpx.get(f"{emu.base_url}/login", params={"auth_token": token})
    assert page.status_code == 200 and 'name="uid"' in page.text
    assert re.search(r'value="100000000000002"', page.text)
    approved = httpx.post(
        f"{emu.base_url}/login", data={"auth_token": token, "uid": "100000000000002"}
    )
    assert approved.status_code == 200 and "Approved" in approved.text
    root = xml(get_session(emu, token))
    assert root.tag == "auth_getSession_response"
    session_key, uid = root.findtext("session_key", ""), root.findtext("uid")
    assert uid == "100000000000002"
    expires = int(root.findtext("expires", ""))
    assert expires > time.time() + 3000  # the default TTL is an hour
    assert xml(upload(emu.url, session=session_key)).findtext("owner") == uid
    assert error_code(get_session(emu, token)) == 100  # a token is good for one session


def test_create_token_json_is_a_bare_string(emu: RunningEmulator) -> None:
    """In JSON, createToken's answer is a bare JSON string."""
    params = signed(
        [
            ("method", "up.auth.createToken"),
            ("apiKey", API_KEY),
            ("community", COMMUNITY),
            ("format", "json"),
        ],
        sig_name="apiSig",
    )
    token = httpx.post(emu.url, data=dict(params)).json()
    assert isinstance(token, str) and len(token) >= 16


def test_token_expires_param_sets_the_session_lifetime(emu: RunningEmulator) -> None:
    """createToken's `expires` (minutes; 0 = never) decides when the session times out."""
    never = create_token(emu, expires="0")
    emu.admin("tokens/approve", {"auth_token": never})
    assert xml(get_session(emu, never)).findtext("expires") == "0"
    short = create_token(emu, expires="2")
    emu.admin("tokens/approve", {"auth_token": short})
    expires = int(xml(get_session(emu, short)).findtext("expires", ""))
    assert time.time() + 60 < expires <= time.time() + 121


def test_get_session_with_unknown_token_gets_100(emu: RunningEmulator) -> None:
    """An unknown token is an invalid parameter."""
    assert error_code(get_session(emu, "no-such-token")) == 100


def test_forced_expiry_gives_102_and_a_minted_session_works(emu: RunningEmulator) -> None:
    """Expiring the demo session makes uploads fail with 102 until a new key is used."""
    assert emu.admin("sessions/expire", {"session_key": "demo-session"}) == {"expired": 1}
    assert error_code(upload(emu.url)) == 102
    minted = emu.admin("sessions", {})
    assert minted["uid"] == DEMO_UID and minted["expires"] == 0
    assert error_code(upload(emu.url, session=minted["session_key"])) is None


def test_expiring_all_sessions(emu: RunningEmulator) -> None:
    """`all: true` times out every session at once."""
    minted = emu.admin("sessions", {})["session_key"]
    assert emu.admin("sessions/expire", {"all": True})["expired"] == 2
    assert error_code(upload(emu.url, session=minted)) == 102
    assert error_code(call(emu.url, "up.photos.getAlbums", uid=DEMO_UID)) == 102


def test_minted_session_with_ttl_reports_its_expiry(emu: RunningEmulator) -> None:
    """A minted session can be given a TTL; expires is a Unix time."""
    minted = emu.admin("sessions", {"ttl_s": 30})
    assert time.time() < minted["expires"] <= time.time() + 31


def test_call_id_not_increasing_gets_103_when_enforced(start_emulator: Start) -> None:
    """With enforcement on, each call of a session needs a call_id greater than the last."""
    emu = start_emulator(enforce_call_id=True)
    first = upload(emu.url, extra=[("call_id", "1172623588.023010")])
    assert error_code(first) is None
    assert error_code(upload(emu.url, extra=[("call_id", "1172623588.023010")])) == 103
    assert error_code(upload(emu.url, extra=[("call_id", "1172623588.02301")])) == 103
    assert error_code(upload(emu.url, extra=[("call_id", "1172623588.023011")])) is None
    assert error_code(upload(emu.url)) == 100  # call_id is required when enforced


def test_call_id_is_not_checked_by_default(emu: RunningEmulator) -> None:
    """The default emulator accepts repeated call_ids (enforcement is off)."""
    for _ in range(2):
        assert error_code(upload(emu.url, extra=[("call_id", "5")])) is None
