import json
import time

import pytest
from fastapi.testclient import TestClient

from bpttlab.server.app import create_app
from bpttlab.server.settings import Settings


@pytest.fixture(scope="session")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="session")
def page_client():
    """Without gzip, so responses expose the template and its context."""
    with TestClient(create_app(Settings(gzip=False))) as c:
        yield c


@pytest.fixture
def make_client():
    """Clients of apps with settings of their own (each app has its own cost budget,
    computing slots and cache, made from its settings)."""
    clients = []

    def make(**settings) -> TestClient:
        c = TestClient(create_app(Settings(**settings)))
        clients.append(c.__enter__())
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def strict_json(text: str):
    """Parse JSON refusing NaN and Infinity, which JSON does not have."""

    def refuse(token):
        raise AssertionError(f"non-finite number {token} in JSON")

    return json.loads(text, parse_constant=refuse)


def until(condition, timeout: float = 10.0) -> None:
    """Wait for another thread to bring condition() about."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def sse_events(client, url: str, headers=None) -> list:
    """A Server-Sent Events stream read to its end and parsed: [(id, event, data)]."""
    out, fields = [], {}
    with client.stream("GET", url, headers=headers) as s:
        assert s.status_code == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        for line in s.iter_lines():
            if not line:
                if "data" in fields:
                    out.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
    return out
