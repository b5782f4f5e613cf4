"""Every recorded request answers the same bytes as when golden.json was recorded.

A regression guard for refactors: the structure may change, the numbers, pages and URLs do
not. A change meant to alter answers re-records (``python tests/golden/record.py``) and says
which answers changed and why in its commit.
"""

import json
from pathlib import Path

from fastapi.testclient import TestClient

from bpttlab.server.app import create_app
from bpttlab.server.settings import Settings

from .cases import answers

GOLDEN = json.loads((Path(__file__).parent / "golden.json").read_text())


def test_at_least_a_hundred_configurations_over_every_view_are_recorded():
    from .cases import VIEWS

    assert sum(len(configs) for configs in VIEWS.values()) >= 100
    assert set(VIEWS) == {"explore", "compare", "cliff", "eigen"}


def test_every_answer_is_byte_identical_to_the_recording():
    with TestClient(create_app(Settings(gzip=False))) as client:
        got = {key: {"status": s, "sha256": d} for key, s, d, _ in answers(client)}
    assert list(got) == list(GOLDEN), "the list of requests changed: re-record golden.json"
    changed = [key for key in got if got[key] != GOLDEN[key]]
    assert changed == [], f"{len(changed)} of {len(got)} answers changed"
