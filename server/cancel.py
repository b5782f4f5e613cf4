"""Requests whose client has gone: their computations are not started.

A page sends at most one /figures request at a time (static/js/view.js), but a request that
waits for a computing slot can outlive its client: a closed tab, an aborted fetch, a proxy's
timeout. ``watch_disconnect`` (run by ``compute.RuntimeContext`` around every GET) reads the
ASGI ``receive`` channel in a task of its own, passing every message on to the app unchanged,
and sets a ``threading.Event`` when ``http.disconnect`` arrives; the event is the request's
``client_gone`` flag, kept in a ContextVar, which the worker thread computing the request
sees. The Limiter (server/limits.py) looks at it before a request queues and again when it
gets a slot, and gives the slot back at once (``ClientGone``) if the client has gone. A
computation already running is not interrupted.

Requests with a body (POST) are not watched: their body is the app's to read as it streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

WATCHED = frozenset({"GET", "HEAD"})  # methods without a request body

_gone: ContextVar[threading.Event | None] = ContextVar("bpttlab_client_gone", default=None)


class ClientGone(Exception):
    """The client of this request has disconnected: nobody is waiting for its computation."""

    def __init__(self) -> None:
        super().__init__("the client disconnected before its computation started")


def client_gone() -> bool:
    """True when the current request's client has disconnected (False outside a request)."""
    event = _gone.get()
    return event is not None and event.is_set()


@contextlib.contextmanager
def watching(event: threading.Event) -> Iterator[threading.Event]:
    """Make event the current request's client-gone flag within the block."""
    token = _gone.set(event)
    try:
        yield event
    finally:
        _gone.reset(token)


async def watch_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Call app with a receive channel that passes on every message of ``receive``, read by a
    task of ours, which sets the request's client-gone flag on ``http.disconnect``."""
    if scope["type"] != "http" or scope.get("method") not in WATCHED:
        await app(scope, receive, send)
        return
    gone = threading.Event()
    inbox: asyncio.Queue[Message] = asyncio.Queue()

    async def pump() -> None:
        while True:
            message = await receive()
            inbox.put_nowait(message)
            if message["type"] == "http.disconnect":
                gone.set()
                return

    async def passed() -> Message:
        if gone.is_set() and inbox.empty():
            return {"type": "http.disconnect"}  # as servers do, for every later call
        return await inbox.get()

    reader = asyncio.ensure_future(pump())
    reader.add_done_callback(_retrieve)
    try:
        with watching(gone):
            await app(scope, passed, send)
    finally:
        reader.cancel()


def _retrieve(task: asyncio.Task) -> None:
    """Mark the reader's outcome seen (a receive that failed is the app's to notice)."""
    if not task.cancelled():
        task.exception()
