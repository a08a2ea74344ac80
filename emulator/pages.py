"""The HTML shell shared by the gallery and the login page; callers escape what they insert."""

from __future__ import annotations

from html import escape

from aiohttp import web

_CSS = """
:root { --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f6f7f9; --accent:#2f6fed; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#111827; color:#fff; padding:14px 28px; display:flex; gap:24px;
         align-items:baseline; flex-wrap:wrap; }
header h1 { font-size:18px; margin:0; font-weight:600; }
header .stats { color:#c7cdd8; font-size:14px; }
header a { color:#9fc0ff; font-size:14px; }
main { padding:20px 28px 40px; max-width:1400px; }
.album { background:#fff; border:1px solid var(--line); border-radius:10px; padding:16px 18px;
         margin-bottom:18px; }
.album h2 { margin:0 0 4px; font-size:17px; }
.meta { color:var(--muted); font-size:13px; }
.badge { display:inline-block; font-size:11px; padding:1px 7px; border-radius:9px;
         background:#eef2ff; color:#3538cd; margin-left:6px; vertical-align:2px; }
.badge.pending { background:#fff4e5; color:#b54708; }
.fill { display:flex; align-items:center; gap:10px; margin:10px 0 12px; }
.fill .count { font-variant-numeric:tabular-nums; font-weight:600; min-width:92px; }
.bar { flex:1; max-width:420px; height:10px; background:#eceff3; border-radius:5px;
       overflow:hidden; }
.bar span { display:block; height:100%; background:#12b76a; }
.bar.high span { background:#f79009; } .bar.full span { background:#f04438; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(132px,1fr)); gap:10px; }
figure { margin:0; background:var(--bg); border:1px solid var(--line); border-radius:6px;
         overflow:hidden; }
figure.pending { outline:2px dashed #f79009; outline-offset:-2px; }
figure img { display:block; width:100%; height:110px; object-fit:cover; background:#dde1e7; }
figcaption { padding:4px 6px; font-size:12px; white-space:nowrap; overflow:hidden;
             text-overflow:ellipsis; }
figcaption small { display:block; color:var(--muted); }
.empty { color:var(--muted); font-style:italic; }
form.login { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px;
             max-width:460px; }
label { display:block; margin:6px 0; }
button { background:var(--accent); color:#fff; border:0; border-radius:6px; padding:8px 16px;
         font-size:15px; cursor:pointer; margin-top:10px; }
"""


def html_page(title: str, body: str, *, status: int = 200, refresh_s: int = 0) -> web.Response:
    """A complete HTML page; `body` must already be escaped by the caller."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s > 0 else ""
    text = (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>{body}</body></html>\n"
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )
