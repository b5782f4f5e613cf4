import json

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.settings import Settings


@pytest.fixture(scope="session")
def client():
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(scope="session")
def page_client():
    """Without gzip, so responses expose the template and its context."""
    with TestClient(create_app(Settings(gzip=False))) as c:
        yield c


def strict_json(text: str):
    """Parse JSON refusing NaN and Infinity, which JSON does not have."""

    def refuse(token):
        raise AssertionError(f"non-finite number {token} in JSON")

    return json.loads(text, parse_constant=refuse)
