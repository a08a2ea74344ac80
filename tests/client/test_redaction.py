"""Secrets never leave through an exception, a repr or a log line, whatever the server echoes."""

from __future__ import annotations

import io
import pickle
import traceback
from urllib.parse import quote

import httpx
import pytest
from structlog.testing import capture_logs

from mediapost import MediaPostError, Redactor
from mediapost.models import Session

from .fakes import CREDENTIALS, SECRET, SESSION_KEY, Server, client_for, error_xml, ok

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 64


def test_redactor_masks_every_secret_and_its_url_encoded_forms() -> None:
    """Plain, percent-encoded and plus-encoded occurrences all become ***."""
    secret = "a b/c+d"
    redact = Redactor([secret, None, ""])
    text = f"x {secret} y {quote(secret, safe='')} z a+b%2Fc%2Bd"
    assert redact(text) == "x *** y *** z ***"


def test_redactor_masks_a_secret_containing_another_whole() -> None:
    """The longer value is masked first, so no fragment of it remains."""
    assert Redactor(["abc", "abcdef"])("abcdef abc") == "*** ***"


def test_redactor_strips_control_characters_and_newlines() -> None:
    """No forged log lines, no terminal escapes, no bidi tricks."""
    assert Redactor([])("a\r\nb\x00c\x1b[2Jd\u2028e\u202ef") == "a b c [2Jd e f"


def _echoing_error(code: int):  # type: ignore[no-untyped-def]
    """A server that puts the request's secrets in error_msg and request_args."""

    def respond(request: httpx.Request) -> httpx.Response:
        body = request.content.decode("utf-8", "replace")
        sig = body.split('name="sig"\r\n\r\n')[1].split("\r\n")[0]
        message = f"bad call key={SESSION_KEY} sig={sig} secret={SECRET}\nforged=1"
        args = {"session_key": SESSION_KEY, "sig": sig, "secret": SECRET}
        return ok(error_xml(code, message, args))

    return respond


def _assert_clean(text: str) -> None:
    assert SECRET not in text
    assert SESSION_KEY not in text
    assert quote(SESSION_KEY, safe="") not in text


@pytest.mark.parametrize("code", [1, 2, 4, 100, 102, 104, 120, 321, 999])
def test_echoed_secrets_never_reach_the_exception(code: int) -> None:
    """str, repr, args, pickled form and the formatted traceback are all clean."""
    server = Server([_echoing_error(code)])
    with capture_logs() as logs, pytest.raises(MediaPostError) as caught:
        client_for(server, attempts=2).upload(io.BytesIO(JPEG), filename="x.jpg")
    exc = caught.value
    sent_sig = server.requests[-1].content.split(b'name="sig"\r\n\r\n')[1][:32].decode()
    for text in (
        str(exc),
        repr(exc),
        repr(exc.args),
        repr(vars(exc)),
        pickle.dumps(exc).decode("latin-1"),
        "".join(traceback.format_exception(exc)),
        repr(logs),
    ):
        _assert_clean(text)
        assert sent_sig not in text
        assert "\n" not in str(exc)
    assert "***" in str(exc)


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadError(f"reset while sending session_key={SESSION_KEY}"),
        httpx.ConnectError(f"refused for {SECRET}"),
    ],
)
def test_transport_fault_messages_are_redacted_and_not_chained(fault: Exception) -> None:
    """An httpx exception holds the request; ours holds neither it nor its text's secrets."""
    with pytest.raises(MediaPostError) as caught:
        client_for(Server([fault]), attempts=1).upload(io.BytesIO(JPEG), filename="x.jpg")
    exc = caught.value
    _assert_clean(str(exc) + repr(exc) + "".join(traceback.format_exception(exc)))
    assert exc.__cause__ is None
    assert exc.__context__ is None


def test_reprs_of_client_credentials_and_session_hide_secrets() -> None:
    """What a debugger or a log of locals would print."""
    client = client_for(Server([ok(b"")]))
    session = Session(session_key=SESSION_KEY, uid="219074", expires=0)
    for text in (repr(client), str(client), repr(CREDENTIALS), str(CREDENTIALS), repr(session)):
        _assert_clean(text)
    assert "219074" in repr(session)


def test_endpoint_userinfo_is_not_shown_in_the_clients_repr() -> None:
    """A password in the endpoint URL stays out of the repr."""
    from mediapost import MediaPostClient

    client = MediaPostClient("http://user:hunter2@mediapost.test/api.php", CREDENTIALS)
    try:
        assert "hunter2" not in repr(client)
    finally:
        client.close()
