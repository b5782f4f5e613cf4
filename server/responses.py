"""HTTP caching of compute responses: strong ETags, Cache-Control, 304, and bodies kept.

Every compute response is a deterministic function of its query (DESIGN.md), so a GET that
answers 200 is given a strong ``ETag`` (a hash of its body: equal bytes, equal tag, whatever
made them) and ``Cache-Control: public, max-age=...``; a request whose ``If-None-Match``
names that tag gets a 304 with no body. Errors are raised, not returned, so they never pass
through here and are never marked cacheable.

The API's bodies are kept in the process's cache (server/compute.py) under the path and the
normalised query, so ``?`` and ``?seq_len=100`` share one; the query string as sent is kept
too, pointing at it, so that a repeated request is answered before its query is parsed and
validated again, and on the event loop, without a worker thread.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from . import limits
from .compute import check_cost, computed, runtime
from .serialize import JSONResponse

GZIP_MINIMUM = 1000  # as the app's GZipMiddleware: smaller bodies are sent as they are
# zlib's fastest level: on the API's JSON (mostly the digits of floats) it is ~4 times as
# fast as level 6 for a body ~4% larger (the default gradient flow: 0.07 against 0.3 ms,
# 8.7 against 8.4 kB of 17 kB), and an uncached request pays for it
GZIP_LEVEL = 1


@dataclass(frozen=True)
class Body:
    """A response body, compressed once (gzip, when it is worth it), its strong entity tag
    (of the body itself: one tag for both codings, as the GZipMiddleware does for pages), its
    media type and other headers."""

    content: bytes
    gzipped: bytes | None
    etag: str
    media_type: str
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, content: bytes, media_type: str, headers: dict[str, str]) -> Body:
        small = len(content) < GZIP_MINIMUM
        gzipped = None if small else gzip.compress(content, compresslevel=GZIP_LEVEL, mtime=0)
        return cls(content, gzipped, strong_etag(content), media_type, tuple(headers.items()))

    def response(self, request: Request) -> Response:
        headers = {"ETag": self.etag, **dict(self.headers)}
        if (
            self.gzipped is None
            or not request.app.state.settings.gzip
            or "gzip" not in request.headers.get("accept-encoding", "")
        ):  # sent as it is (and given Vary by the GZipMiddleware when it could be gzipped)
            return Response(self.content, media_type=self.media_type, headers=headers)
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return Response(self.gzipped, media_type=self.media_type, headers=headers)


def strong_etag(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'


_TAG = re.compile(r'(?:W/)?("[^"]*")')


def none_match(if_none_match: str, etag: str) -> bool:
    """True when an If-None-Match header names etag: ``*``, or a list of tags compared
    weakly (``W/"x"`` matches ``"x"``), RFC 9110 section 13.1.2."""
    if if_none_match.strip() == "*":
        return True
    return etag in _TAG.findall(if_none_match)


def _as_sent(request: Request) -> tuple:
    return ("url", request.scope["path"], request.scope["query_string"])


def cached_response(
    request: Request,
    q: BaseModel,
    build: Callable[[], Any],
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """The response to a GET: build() (a JSON-able payload, str or bytes) for the path and the
    normalised query q, from the cache or made in a computing slot, with its ETag."""
    check_cost(q)

    def body() -> Body:
        content = build()
        if isinstance(content, str):
            content = content.encode()
        elif not isinstance(content, bytes):
            content = JSONResponse(content).body
        return Body.of(content, media_type, headers or {})

    key = body_key(request.url.path, q)
    made = computed(key, body)
    runtime().cache.put(_as_sent(request), key)
    return made.response(request)


def body_key(path: str, q: BaseModel) -> tuple:
    """Where the body of path for the normalised query q is kept in the cache."""
    return ("body", path, q.model_dump_json())


def how_long(q: BaseModel, path: str) -> dict[str, Any]:
    """The estimate of a request for path with query q, before any work: its cost (a 422
    over the budget), whether its body is kept (answered at once), and the seconds it is
    expected to take (server/estimates.py; 0 when kept)."""
    rt = runtime()
    cost = limits.check_budget(q, rt.budget)
    cached = body_key(path, q) in rt.cache
    seconds = 0.0 if cached else rt.timings.seconds(type(q).__name__, cost.value)
    return {"seconds": round(seconds, 2), "cost": cost.value, "cached": cached}


def _kept(request: Request) -> Body | None:
    """The body kept for this path and query string as sent, if any."""
    cache = runtime().cache
    key = cache.get(_as_sent(request))
    return None if key is None else cache.get(key)


class CacheableRoute(APIRoute):
    """A route whose GET responses are validated and cacheable: a 200 with a body gets a strong
    ETag (its own, if the handler set one) and public Cache-Control, or becomes a 304 when
    If-None-Match names that tag. A response that sets its own Cache-Control is left alone.
    A GET whose body is kept (cached_response) is answered from the cache directly."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def cacheable(request: Request) -> Response:
            if request.method != "GET":
                return await handler(request)
            kept = _kept(request)
            response = kept.response(request) if kept is not None else await handler(request)
            if (
                response.status_code != 200
                or "cache-control" in response.headers
                or not hasattr(response, "body")
            ):
                return response
            etag = response.headers.get("etag") or strong_etag(response.body)
            max_age = request.app.state.settings.cache_max_age
            headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
            if none_match(request.headers.get("if-none-match", ""), etag):
                return Response(status_code=304, headers=headers)
            response.headers.update(headers)
            return response

        return cacheable
