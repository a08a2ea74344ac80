"""The community login page: a person approves an auth token for a test user (contract §2)."""

from __future__ import annotations

from html import escape

from aiohttp import web

from emulator.pages import html_page
from emulator.state import STATE_KEY


async def login_form(request: web.Request) -> web.Response:
    """GET /login?auth_token=...: choose a test user and approve the application's token."""
    state = request.app[STATE_KEY]
    token_value = request.query.get("auth_token", "")
    token = state.store.tokens.get(token_value)
    if token is None:
        return _message("Unknown token", "This auth_token is unknown or was already used.", 404)
    app = state.store.apps.get(token.api_key)
    app_name = app.name if app else token.api_key
    choices = "".join(
        f'<label><input type="radio" name="uid" value="{escape(u.uid)}"{" checked" * (i == 0)}> '
        f"{escape(u.name)} <span class=meta>({escape(u.uid)})</span></label>"
        for i, u in enumerate(state.store.users.values())
    )
    body = (
        "<header><h1>MediaPost emulator · log in</h1></header><main>"
        f'<form class="login" method="post" action="/login">'
        f"<p><b>{escape(app_name)}</b> wants to upload photos to community "
        f"<b>{escape(token.community)}</b> on your behalf.</p>"
        f"{choices}"
        f'<input type="hidden" name="auth_token" value="{escape(token.token)}">'
        "<button type=submit>Approve</button></form></main>"
    )
    return html_page("Log in", body)


async def login_approve(request: web.Request) -> web.Response:
    """POST /login: approve the token for the chosen user; the app can then call getSession."""
    state = request.app[STATE_KEY]
    form = await request.post()
    token = str(form.get("auth_token", ""))
    uid = str(form.get("uid", state.config.demo_uid))
    if not state.store.approve_token(token, uid):
        return _message("Not approved", "Unknown auth_token or user.", 400)
    return _message(
        "Approved",
        "Logged in. The application can now call up.auth.getSession with its token; "
        "you can close this window.",
        200,
    )


def _message(title: str, text: str, status: int) -> web.Response:
    body = (
        f"<header><h1>MediaPost emulator · {escape(title)}</h1></header>"
        f"<main><p>{escape(text)}</p></main>"
    )
    return html_page(title, body, status=status)


def add_routes(app: web.Application) -> None:
    """Mount the login page."""
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_approve)
