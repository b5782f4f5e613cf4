"""A queued request whose client has gone is not computed; the estimate endpoint says how long
a query will take before any work, validated as the figures endpoint is."""

import asyncio
import math
import threading

import pytest

from bpttlab.server import compute
from bpttlab.server.cancel import ClientGone, client_gone, watch_disconnect, watching
from bpttlab.server.estimates import FACTOR_RANGE, MIN_SECONDS, RATE, Timings, predicted
from bpttlab.server.limits import CLIENT_CLOSED, Limiter
from bpttlab.server.schemas import GradientFlowQuery

from .conftest import strict_json, until

VIEWS = [
    "/api/v1/gradient-flow",
    "/api/v1/compare",
    "/api/v1/cliff",
    "/api/v1/eigen",
    "/api/v1/depth",
]


# the estimate endpoint


@pytest.mark.parametrize("api", VIEWS)
def test_the_estimate_is_finite_not_cacheable_and_in_the_openapi_document(client, api):
    r = client.get(f"{api}/estimate")
    assert r.status_code == 200
    body = strict_json(r.text)
    assert set(body) == {"seconds", "cost", "cached"}
    assert math.isfinite(body["seconds"]) and body["seconds"] >= 0
    assert body["cost"] > 0
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    operation = client.get("/openapi.json").json()["paths"][f"{api}/estimate"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Estimate"}
    assert "422" in operation["responses"]


def test_the_estimate_grows_with_the_work_and_says_seconds(make_client):
    client = make_client()
    small = client.get("/api/v1/gradient-flow/estimate", params={"hidden_size": 16}).json()
    large = client.get(
        "/api/v1/gradient-flow/estimate", params={"hidden_size": 256, "seq_len": 1000}
    ).json()
    assert small["seconds"] < 0.2 < 1 < large["seconds"] < 10
    assert large["cost"] > small["cost"]
    q = GradientFlowQuery(hidden_size=256, seq_len=1000)
    assert large["seconds"] == round(predicted("GradientFlowQuery", large["cost"]), 2)
    assert large["cost"] * RATE["GradientFlowQuery"] < large["seconds"]
    assert large["cost"] == compute.limits.estimate(q).value


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"hidden_size": 257}, "hidden_size"),
        ({"seq_len": 0}, "seq_len"),
        ({"seq_len": "many"}, "seq_len"),
        ({"cell": "transformer"}, "cell"),
        ({"scale": "nan"}, "scale"),
    ],
)
def test_a_bad_estimate_query_is_a_422_naming_the_field(client, params, field):
    r = client.get("/api/v1/gradient-flow/estimate", params=params)
    assert r.status_code == 422
    body = strict_json(r.text)
    assert body["errors"][0]["field"] == field
    assert body["message"].startswith(f"{field}: ")


def test_an_estimate_over_budget_is_the_refusal_the_figures_get(make_client):
    client = make_client(cost_budget=4e9)
    params = {"hidden_size": 256, "seq_len": 1000}
    r = client.get("/api/v1/gradient-flow/estimate", params=params)
    figures = client.get("/api/v1/gradient-flow/figures", params=params)
    assert r.status_code == figures.status_code == 422
    assert r.json()["errors"] == figures.json()["errors"]


def test_the_estimate_computes_nothing_and_knows_what_is_kept(make_client, monkeypatch):
    client = make_client()
    runtime = client.app.state.runtime
    calls = []
    real = compute.gradient_flow
    monkeypatch.setattr(compute, "gradient_flow", lambda c: calls.append(c) or real(c))
    params = {"seed": 31, "seq_len": 40}
    first = client.get("/api/v1/gradient-flow/estimate", params=params).json()
    assert calls == [] and runtime.started == 0
    assert first["cached"] is False and first["seconds"] > 0
    assert client.get("/api/v1/gradient-flow/figures", params=params).status_code == 200
    assert len(calls) == 1 and runtime.started == 1
    kept = client.get("/api/v1/gradient-flow/estimate", params=params).json()
    assert kept == {**first, "cached": True, "seconds": 0.0}


# the timings that calibrate it


def test_timings_follow_what_is_measured_as_a_moving_average():
    t = Timings()
    cost = 2e10  # predicted well over MIN_SECONDS
    base = predicted("GradientFlowQuery", cost)
    assert t.seconds("GradientFlowQuery", cost) == base
    t.record("GradientFlowQuery", cost, 2 * base)
    once = t.seconds("GradientFlowQuery", cost)
    assert base < once < 2 * base
    for _ in range(50):
        t.record("GradientFlowQuery", cost, 2 * base)
    assert t.seconds("GradientFlowQuery", cost) == pytest.approx(2 * base, rel=1e-6)
    assert t.seconds("CompareQuery", cost) == predicted("CompareQuery", cost)  # per kind


def test_timings_ignore_small_computations_and_bound_the_correction():
    t = Timings()
    small = 1e6
    assert predicted("GradientFlowQuery", small) < MIN_SECONDS
    t.record("GradientFlowQuery", small, 100.0)
    assert t.factor("GradientFlowQuery") == 1.0 and t.recorded == 0
    for _ in range(100):
        t.record("GradientFlowQuery", 2e10, 1e6)
    assert t.factor("GradientFlowQuery") == pytest.approx(FACTOR_RANGE[1])


def test_a_computation_in_a_request_is_timed(make_client, monkeypatch):
    """The outermost slot of a request is timed against the request's cost."""
    client = make_client()
    recorded = []
    timings = client.app.state.runtime.timings
    monkeypatch.setattr(timings, "record", lambda *a: recorded.append(a))
    assert client.get("/api/v1/gradient-flow/figures", params={"seed": 5}).status_code == 200
    [(kind, cost, seconds)] = recorded
    assert kind == "GradientFlowQuery" and seconds > 0
    assert cost == client.get("/api/v1/gradient-flow/estimate").json()["cost"]


# the limiter and the client-gone flag


def run(coroutine) -> None:
    """Run coroutine in an event loop of its own thread (this one may have one running)."""
    finished = []
    thread = threading.Thread(target=lambda: finished.append(asyncio.run(coroutine)))
    thread.start()
    thread.join(10)
    assert finished == [None], "the coroutine failed or did not finish"


def test_a_gone_client_does_not_queue_and_is_counted():
    limiter = Limiter(max_concurrent=1, max_queue=1)
    gone = threading.Event()
    with watching(gone):
        with limiter.slot():
            pass
        gone.set()
        with pytest.raises(ClientGone), limiter.slot():
            raise AssertionError("computed for a gone client")
    assert (limiter.started, limiter.skipped_gone, limiter.admitted) == (1, 1, 0)


def test_a_slot_counts_one_computation_however_nested():
    limiter = Limiter(max_concurrent=1, max_queue=0)
    with limiter.slot() as outer, limiter.slot() as inner:
        assert (outer, inner) == (True, False)
    assert limiter.started == 1


def test_a_client_that_goes_while_queued_leaves_the_queue_uncomputed():
    limiter = Limiter(max_concurrent=1, max_queue=2)
    inside, release, gone = threading.Event(), threading.Event(), threading.Event()
    outcome = {}

    def hold():
        with limiter.slot():
            inside.set()
            release.wait(10)

    def queued():
        with watching(gone):
            try:
                with limiter.slot():
                    outcome["computed"] = True
            except ClientGone:
                outcome["gone"] = True

    holder, waiter = threading.Thread(target=hold), threading.Thread(target=queued)
    holder.start()
    assert inside.wait(10)
    waiter.start()
    until(lambda: limiter.admitted == 2)
    gone.set()
    until(lambda: limiter.admitted == 1)  # it left the queue while the slot was held
    assert outcome == {"gone": True} and limiter.skipped_gone == 1
    release.set()
    holder.join(10)
    waiter.join(10)
    assert (limiter.started, limiter.skipped_gone, limiter.admitted) == (1, 1, 0)


def test_the_watch_passes_messages_on_and_raises_the_flag_on_disconnect():
    seen = {}

    async def app(scope, receive, send):
        seen["first"] = await receive()
        seen["gone before"] = client_gone()
        seen["second"] = await receive()
        seen["gone after"] = client_gone()
        seen["third"] = await receive()  # servers repeat the disconnect

    async def main():
        messages = [
            {"type": "http.request", "body": b"", "more_body": False},
            {"type": "http.disconnect"},
        ]

        async def receive():
            await asyncio.sleep(0)
            return messages.pop(0)

        await watch_disconnect(app, {"type": "http", "method": "GET"}, receive, None)

    run(main())
    assert seen["first"]["type"] == "http.request"
    assert seen["gone before"] is False
    assert seen["second"] == seen["third"] == {"type": "http.disconnect"}
    assert seen["gone after"] is True


def test_a_request_with_a_body_is_not_watched():
    """A POST's body is the app's to read: nothing reads receive before it."""
    calls = []

    async def app(scope, receive, send):
        calls.append(("app", client_gone()))
        calls.append(await receive())

    async def receive():
        calls.append("receive")
        return {"type": "http.request", "body": b"{}", "more_body": False}

    run(watch_disconnect(app, {"type": "http", "method": "POST"}, receive, None))
    assert calls == [
        ("app", False),
        "receive",
        {"type": "http.request", "body": b"{}", "more_body": False},
    ]


# through the app: a computing slot held, a GET queued, its client gone


class Call:
    """One GET to the app in a thread of its own, as a server would make it: its client can
    disconnect (``leave``) while the request waits; ``status`` is the status it was sent."""

    def __init__(self, app, path: str, query: str):
        self.left = threading.Event()
        self.status = None
        self.body = b""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.thread = threading.Thread(
            target=lambda: asyncio.run(app(scope, self.receive, self.send))
        )
        self.thread.start()

    async def receive(self):
        if not hasattr(self, "_sent_request"):
            self._sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while not self.left.is_set():
            await asyncio.sleep(0.005)
        return {"type": "http.disconnect"}

    async def send(self, message):
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def leave(self):
        self.left.set()

    def join(self):
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def blocked(make_client, monkeypatch):
    """A client of an app with one computing slot, and the engine's gradient flow held on an
    Event (``release``) for the seeds in ``held``; ``calls`` lists the seeds computed."""
    client = make_client(max_concurrent=1, max_queue=4)
    release, calls, held = threading.Event(), [], {1}
    real = compute.gradient_flow

    def gradient_flow(config, **kwargs):
        calls.append(config.seed)
        if config.seed in held:
            release.wait(30)
        return real(config, **kwargs)

    monkeypatch.setattr(compute, "gradient_flow", gradient_flow)
    return client, release, calls


def test_a_queued_get_whose_client_has_gone_is_not_computed(blocked):
    client, release, calls = blocked
    runtime = client.app.state.runtime
    path = "/api/v1/gradient-flow/figures"
    holder = Call(client.app, path, "seed=1&seq_len=20")
    until(lambda: calls == [1])
    gone = Call(client.app, path, "seed=2&seq_len=20")
    stays = Call(client.app, path, "seed=3&seq_len=20")
    until(lambda: runtime.limiter.admitted == 3)
    gone.leave()
    # the server notices the disconnect (its watcher polls receive()) and the request leaves
    # the queue; releasing the slot before that would race the watcher
    until(lambda: runtime.limiter.admitted == 2)
    release.set()
    for call in (holder, gone, stays):
        call.join()
    assert calls == [1, 3]  # seed 2 never reached the engine
    assert (runtime.started, runtime.skipped_gone) == (2, 1)
    assert (holder.status, stays.status, gone.status) == (200, 200, CLIENT_CLOSED)
    assert runtime.limiter.admitted == 0
    # the same query asked again by a client that stays is computed
    assert client.get(path, params={"seed": 2, "seq_len": 20}).status_code == 200
    assert calls == [1, 3, 2]


def test_a_waiter_on_a_gone_clients_flight_computes_it(blocked):
    """Equal queries share one computation; when its first asker has gone before it started,
    the one still waiting computes it."""
    client, release, calls = blocked
    runtime = client.app.state.runtime
    path = "/api/v1/gradient-flow/figures"
    holder = Call(client.app, path, "seed=1&seq_len=20")
    until(lambda: calls == [1])
    owner = Call(client.app, path, "seed=4&seq_len=20")
    until(lambda: runtime.limiter.admitted == 2)
    waiter = Call(client.app, path, "seq_len=20&seed=4")  # the same query, as sent otherwise
    until(lambda: runtime.cache.waiting == 1)
    owner.leave()
    until(lambda: runtime.skipped_gone == 1)  # seen gone before the slot frees (no race)
    release.set()
    for call in (holder, owner, waiter):
        call.join()
    assert calls == [1, 4]
    assert (owner.status, waiter.status) == (CLIENT_CLOSED, 200)
    assert strict_json(waiter.body)["config"]["seed"] == 4
    assert (runtime.started, runtime.skipped_gone) == (2, 1)
