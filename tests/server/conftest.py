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
