"""Security headers on every response, the framing policy, and CORS on the JSON API.

Every response gets ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy``; HTML
responses get a Content-Security-Policy whose ``frame-ancestors`` is ``'self'`` for every
page but the embeddable ones (paths under ``/embed/``), which take the ``frame_ancestors``
setting. ``/api/`` answers GET, HEAD and their preflight from any origin, without credentials.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EMBED_PREFIX = "/embed/"
API_PREFIX = "/api/"
# CORS is open for reading only. POST (own weights, bodies up to 16 MiB, never cached) is left
# to same-origin pages and to non-browser clients: other sites' scripts get no preflight
# approval and no Access-Control-Allow-Origin for it, so a page elsewhere cannot make its
# visitors' browsers run our most expensive endpoint and read the result.
CORS_METHODS = ("GET", "HEAD")
# strict-origin-when-cross-origin: other sites see our origin and never the query, which holds
# the view's configuration; same-origin requests keep the full URL. (Browsers default to it;
# sending it makes it hold everywhere.)
REFERRER_POLICY = "strict-origin-when-cross-origin"


def content_security_policy(frame_ancestors: str) -> str:
    """Scripts only from our origin (no inline script, no eval); nothing loaded from elsewhere.

    Styles allow 'unsafe-inline': Plotly draws by writing ``style`` attributes and inserting a
    ``<style>`` element at run time, and Swagger UI does the same. Inline styles cannot run
    code, so the policy against script injection is intact. Images allow ``data:`` and
    ``blob:``: Plotly's "download as PNG" renders through both, and Swagger UI's stylesheet
    draws its icons from ``data:`` URLs.
    """
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, and CORS on ``/api/``."""

    def __init__(self, app: ASGIApp, frame_ancestors: str = "*") -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app, allow_origins=["*"], allow_methods=CORS_METHODS, allow_credentials=False
        )
        self.page_policy = content_security_policy("'self'")
        self.embed_policy = content_security_policy(frame_ancestors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        policy = self.embed_policy if path.startswith(EMBED_PREFIX) else self.page_policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = REFERRER_POLICY
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = policy
            await send(message)

        readable = scope["method"] in (*CORS_METHODS, "OPTIONS")
        app = self.cors if path.startswith(API_PREFIX) and readable else self.app
        await app(scope, receive, send_with_headers)
