"""The API documents (Swagger UI at ``/docs``) and the pages' static files, all served from here: no CDN.

Swagger UI is vendored in ``api/static/swagger-ui`` (its README names the version and licence); the page loads it
and ``/static/docs.js`` (its set-up) as files, so it works under the Content-Security-Policy, which allows no
inline script.  ReDoc is not offered: it injects inline styles and has no self-contained distribution here.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"

_PAGE = """<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - API documents</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="/static/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


async def swagger_ui(_request: Request) -> HTMLResponse:
    """The interactive API documents (Swagger UI), from this service's own files."""
    return HTMLResponse(_PAGE.format(title="placement-matching"))


def install(app: FastAPI) -> None:
    """The documents' route (open, as FastAPI's own) and ``/static`` (pages' styles, Swagger UI)."""
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
