"""Cost budget and computing slots: over-budget requests are refused before any work, at most
max_concurrent computations run, max_queue wait, and one more gets a 503 with Retry-After."""

import inspect
import threading

import anyio.to_thread
import pytest
from fastapi.routing import APIRoute

from bpttlab.server import compute
from bpttlab.server.limits import STEP, Busy, Limiter, estimate
from bpttlab.server.schemas import (
    MAX_DRAWS,
    MAX_HIDDEN,
    MAX_SEQ_LEN,
    CliffQuery,
    CompareQuery,
    DepthQuery,
    EigenQuery,
    GradientFlowQuery,
    NetworkQuery,
)
from bpttlab.server.schemas.network import MAX_NET_HIDDEN, MAX_NET_INPUT, MAX_NET_SEQ_LEN
from bpttlab.server.settings import Settings

from .conftest import strict_json, until

# the largest query each experiment's bounds allow (the cliff's w range kept where T = 500
# is allowed at all)
LARGEST = [
    GradientFlowQuery(cell="lstm", hidden_size=MAX_HIDDEN, seq_len=MAX_SEQ_LEN, peephole=True),
    GradientFlowQuery(
        cell="lstm",
        hidden_size=MAX_HIDDEN,
        seq_len=MAX_SEQ_LEN,
        truncation=1,
        keep_prob=0.5,
        draws=MAX_DRAWS,
    ),
    GradientFlowQuery(cell="gru", hidden_size=MAX_HIDDEN, seq_len=MAX_SEQ_LEN),
    GradientFlowQuery(cell="rnn", hidden_size=MAX_HIDDEN, seq_len=MAX_SEQ_LEN),
    CompareQuery(hidden_size=MAX_HIDDEN, seq_len=MAX_SEQ_LEN),
    CliffQuery(seq_len=500, resolution=301, steps=1000, w_min=-4, w_max=4),
    EigenQuery(matrix="gaussian", hidden_size=MAX_HIDDEN, seq_len=MAX_SEQ_LEN),
    NetworkQuery(
        cell="lstm",
        hidden_size=MAX_NET_HIDDEN,
        seq_len=MAX_NET_SEQ_LEN,
        num_layers=8,
        bidirectional=True,
        input_size=MAX_NET_INPUT,
        vocab_size=64,
    ),
    DepthQuery(architecture="highway", depth=200, width=512, batch=256),
    DepthQuery(architecture="dense", depth=200, width=512, batch=256, growth=32),
    DepthQuery(compare=True, depth=200, width=512, batch=256, growth=32),  # 3.6e11, the largest
]
# a budget every default query fits in, and that the larger ones below exceed
SMALL_BUDGET = 4e9
OVER = [
    ("/api/v1/gradient-flow", {"cell": "lstm", "hidden_size": 256, "seq_len": 1000}, "seq_len"),
    ("/api/v1/gradient-flow/figures", {"hidden_size": 256, "seq_len": 1000}, "seq_len"),
    ("/api/v1/gradient-flow/pytorch", {"hidden_size": 256, "seq_len": 1000}, "seq_len"),
    ("/api/v1/compare", {"hidden_size": 128, "seq_len": 1000}, "seq_len"),
    ("/api/v1/compare/figures", {"hidden_size": 128, "seq_len": 1000}, "seq_len"),
    ("/api/v1/cliff", {"resolution": 301}, "seq_len"),
    ("/api/v1/cliff/figures", {"steps": 1000, "seq_len": 200}, "seq_len"),
    ("/api/v1/eigen", {"matrix": "gaussian", "hidden_size": 256, "seq_len": 1000}, "seq_len"),
    (
        "/api/v1/eigen/figures",
        {"matrix": "gaussian", "hidden_size": 256, "seq_len": 200},
        "seq_len",
    ),
    ("/api/v1/network", {"hidden_size": 64, "seq_len": 200, "num_layers": 4}, "seq_len"),
    ("/api/v1/network/figures", {"seq_len": 200, "bidirectional": "true"}, "seq_len"),
    ("/api/v1/network/pytorch", {"hidden_size": 64, "seq_len": 200}, "seq_len"),
]
# a page, its API, and a field the cost does not grow with, which the fallback keeps
PAGES = [
    ("/explore", "/api/v1/gradient-flow", "seed", 7),
    ("/compare", "/api/v1/compare", "seed", 7),
    ("/cliff", "/api/v1/cliff", "learning_rate", 0.5),
    ("/eigen", "/api/v1/eigen", "seed", 7),
    ("/network", "/api/v1/network", "seed", 7),
]


@pytest.mark.parametrize("q", LARGEST, ids=lambda q: type(q).__name__)
def test_the_default_budget_admits_the_largest_queries(q):
    assert estimate(q).value <= Settings().cost_budget


def test_the_lstm_costs_what_an_rnn_of_twice_the_size_costs():
    lstm = GradientFlowQuery(cell="lstm", hidden_size=40, seq_len=300)
    rnn = GradientFlowQuery(cell="rnn", hidden_size=80, seq_len=300)
    assert estimate(lstm).value == estimate(rnn).value


def test_compare_costs_the_three_cells():
    q = CompareQuery(hidden_size=48, seq_len=70)
    cells = [GradientFlowQuery(cell=c, hidden_size=48, seq_len=70) for c in ("rnn", "lstm", "gru")]
    assert estimate(q).value == sum(estimate(c).value for c in cells)


@pytest.mark.parametrize(
    ("small", "large"),
    [
        (GradientFlowQuery(seq_len=10), GradientFlowQuery(seq_len=20)),
        (GradientFlowQuery(), GradientFlowQuery(truncation=5)),
        (GradientFlowQuery(truncation=5), GradientFlowQuery(truncation=5, keep_prob=0.5)),
        (GradientFlowQuery(keep_prob=0.5, draws=2), GradientFlowQuery(keep_prob=0.5, draws=3)),
        (GradientFlowQuery(hidden_size=10), GradientFlowQuery(hidden_size=11)),
        (CliffQuery(resolution=10), CliffQuery(resolution=11)),
        (CliffQuery(steps=10), CliffQuery(steps=11)),
        (EigenQuery(seq_len=10), EigenQuery(seq_len=11)),
        (
            EigenQuery(matrix="gaussian", hidden_size=9),
            EigenQuery(matrix="gaussian", hidden_size=10),
        ),
    ],
)
def test_cost_grows_with_the_sizes(small, large):
    assert estimate(small).value < estimate(large).value


def test_a_small_network_costs_its_time_steps():
    """At n = 1 the work is the loop over time, not the products: cost ~ seq_len * STEP."""
    q = GradientFlowQuery(hidden_size=1, seq_len=1000)
    assert estimate(q).value >= 1000 * STEP


@pytest.mark.parametrize(("path", "params", "field"), OVER)
def test_over_budget_is_a_422_naming_the_limit(make_client, path, params, field):
    client = make_client(cost_budget=SMALL_BUDGET)
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text[:300]
    body = strict_json(r.text)
    [error] = body["errors"]
    assert error["field"] == field and error["type"] == "cost_budget"
    assert error["limit"]["budget"] == SMALL_BUDGET
    assert error["limit"]["cost"] > SMALL_BUDGET
    assert "exceeds the budget of 4e+09" in error["message"]
    assert body["message"].startswith(f"{field}: ")
    assert "cache-control" not in r.headers and "etag" not in r.headers
    # the defaults of the same endpoint fit
    assert client.get(path).status_code == 200


def test_over_budget_post_is_a_422(make_client):
    client = make_client(cost_budget=SMALL_BUDGET)
    r = client.post("/api/v1/gradient-flow", json={"cell": "lstm", "hidden_size": 256})
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "cost_budget"


def test_over_budget_is_refused_before_any_work(make_client, monkeypatch):
    client = make_client(cost_budget=SMALL_BUDGET)

    def refuse(*args, **kwargs):
        raise AssertionError("the engine was called")

    names = ("gradient_flow", "compare_cells", "cliff_surface", "descend", "eigen_expansion")
    for name in (*names, "network_maps"):
        monkeypatch.setattr(compute, name, refuse)
    for path, params, _ in OVER:
        assert client.get(path, params=params).status_code == 422, path


def test_the_message_names_the_formula_and_the_numbers(make_client):
    client = make_client(cost_budget=SMALL_BUDGET)
    r = client.get("/api/v1/gradient-flow", params={"cell": "lstm", "hidden_size": 256})
    message = r.json()["errors"][0]["message"]
    assert message.startswith("seq_len * (2*STEP + (2*hidden_size)^3) = 100 * (2*131072 + 512^3)")
    assert "reduce seq_len or hidden_size" in message


@pytest.mark.parametrize(("page", "api", "kept", "value"), PAGES)
def test_an_over_budget_page_says_so_and_falls_back(make_client, page, api, kept, value):
    """A page shows the refusal with its other problems and computes the defaults of the
    fields the cost grows with; the other fields are kept."""
    client = make_client(cost_budget=SMALL_BUDGET, gzip=False)
    [params] = [p for path, p, _ in OVER if path == api]
    params = {**params, kept: value}
    r = client.get(page, params=params)
    assert r.status_code == 200
    [problem] = r.context["problems"]
    assert problem["type"] == "cost_budget" and problem["field"] == "seq_len"
    q = r.context["query"]
    assert estimate(q).value <= SMALL_BUDGET
    assert getattr(q, kept) == value
    for name in params:
        if name in estimate(q).fields:
            assert getattr(q, name) == type(q).model_fields[name].default, name


def test_a_page_is_refused_when_even_the_defaults_are_over_budget(make_client):
    client = make_client(cost_budget=1e6)
    r = client.get("/cliff")
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "cost_budget"


def _api_routes(routes):
    for route in routes:
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def test_no_route_computes_on_the_event_loop(client):
    """Sync routes run in the thread pool; an async one must compute nothing."""
    routes = list(_api_routes(client.app.routes))
    assert {"/api/v1/gradient-flow", "/explore", "/api/v1/gradient-flow/pytorch"} <= {
        r.path for r in routes
    }
    on_loop = {
        r.path
        for r in routes
        if inspect.isasyncgenfunction(r.endpoint) or inspect.iscoroutinefunction(r.endpoint)
    }
    # the health check, and a training job's event stream (it reads the job's events list;
    # the job runs in a worker process); a model analysis' event stream likewise, and the
    # uploads of a model and its inputs, which stream the body to a file (hashing each chunk)
    # and read the file in a worker thread (server/model_api.py)
    assert on_loop == {
        "/api/v1/health",
        "/api/v1/train/{job_id}/events",
        "/api/v1/models",
        "/api/v1/models/{sha}/inputs",
        "/api/v1/models/{sha}/analysis/{job_id}/events",
    }


def test_the_thread_pool_leaves_room_beyond_the_queue(make_client):
    """Waiting computations hold worker threads: there must be more threads than they are,
    so that the queue, not the thread pool, decides who waits and who gets a 503."""
    client = make_client(max_concurrent=3, max_queue=100)
    threads = client.portal.call(
        lambda: anyio.to_thread.current_default_thread_limiter().total_tokens
    )
    assert threads > 3 + 100


# the limiter itself


def test_the_limiter_admits_running_plus_queued_and_refuses_one_more():
    limiter = Limiter(max_concurrent=1, max_queue=1)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with limiter.slot():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=hold)
    waiter.start()
    until(lambda: limiter.admitted == 2)
    with pytest.raises(Busy), limiter.slot():
        pass
    release.set()
    holder.join(10)
    waiter.join(10)
    assert limiter.admitted == 0
    with limiter.slot():  # free again
        assert limiter.admitted == 1


def test_a_slot_is_reentrant_in_its_thread():
    limiter = Limiter(max_concurrent=1, max_queue=0)
    with limiter.slot(), limiter.slot():
        assert limiter.admitted == 1
    assert limiter.admitted == 0


def test_a_failed_computation_gives_its_slot_back():
    limiter = Limiter(max_concurrent=1, max_queue=0)
    with pytest.raises(RuntimeError), limiter.slot():
        raise RuntimeError("the computation failed")
    assert limiter.admitted == 0
    with limiter.slot():
        assert limiter.admitted == 1


def test_a_full_queue_answers_503_and_the_waiting_requests_complete(make_client, monkeypatch):
    """max_concurrent=1, max_queue=1: one request computes (blocked on an Event we hold), one
    waits, the third gets a 503 with Retry-After; a cached query is still answered at once;
    after the release both held requests complete."""
    client = make_client(max_concurrent=1, max_queue=1)
    assert client.get("/api/v1/gradient-flow", params={"seed": 99}).status_code == 200  # cached
    release = threading.Event()
    real = compute.gradient_flow

    def blocked(config, **kwargs):
        release.wait(30)
        return real(config, **kwargs)

    monkeypatch.setattr(compute, "gradient_flow", blocked)
    limiter = client.app.state.runtime.limiter
    results = {}

    def get(seed):
        results[seed] = client.get("/api/v1/gradient-flow", params={"seed": seed})

    threads = [threading.Thread(target=get, args=(seed,)) for seed in (1, 2)]
    threads[0].start()
    until(lambda: limiter.admitted == 1)
    threads[1].start()
    until(lambda: limiter.admitted == 2)

    r = client.get("/api/v1/gradient-flow", params={"seed": 3})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert "cache-control" not in r.headers
    body = strict_json(r.text)
    assert body["status"] == 503
    [error] = body["errors"]
    assert error["type"] == "busy" and error["limit"] == {"max_concurrent": 1, "max_queue": 1}

    hit = client.get("/api/v1/gradient-flow", params={"seed": 99})
    assert hit.status_code == 200  # a cache hit takes no slot
    assert client.get("/api/v1/health").status_code == 200

    release.set()
    for t in threads:
        t.join(30)
    assert {seed: r.status_code for seed, r in results.items()} == {1: 200, 2: 200}
    assert limiter.admitted == 0
    assert client.get("/api/v1/gradient-flow", params={"seed": 3}).status_code == 200


# one request of each kind, on queries no other test asks for (so none is answered from cache)
ONCE = [
    ("get", "/api/v1/gradient-flow", {"seed": 90001, "seq_len": 12}),
    ("get", "/api/v1/gradient-flow/figures", {"seed": 90002, "seq_len": 12}),
    ("get", "/api/v1/gradient-flow/figures/profile.csv", {"seed": 90003, "seq_len": 12}),
    ("get", "/api/v1/gradient-flow/pytorch", {"seed": 90004, "seq_len": 12}),
    ("get", "/explore", {"seed": 90005, "seq_len": 12}),
    ("get", "/embed/explore", {"seed": 90006, "seq_len": 12}),
    ("get", "/api/v1/compare/figures", {"seed": 90007, "seq_len": 12}),
    ("get", "/compare", {"seed": 90008, "seq_len": 12}),
    ("get", "/api/v1/cliff", {"seq_len": 13, "steps": 3, "resolution": 11}),
    ("get", "/cliff", {"seq_len": 14, "steps": 3, "resolution": 11}),
    ("get", "/api/v1/eigen/figures", {"seed": 90009, "seq_len": 12}),
    ("get", "/eigen", {"seed": 90010, "seq_len": 12}),
    ("post", "/api/v1/gradient-flow", {"seed": 90011, "seq_len": 12}),
]


@pytest.mark.parametrize(("method", "path", "params"), ONCE)
def test_the_cost_is_estimated_once_per_request(client, monkeypatch, method, path, params):
    """The API, the figures endpoints, the downloads, the pages and the POST check the cost
    once, where the request comes in; a repeated API GET is answered from its kept body
    unchecked."""
    from bpttlab.server import limits

    calls = []

    def counting(q):
        calls.append(type(q).__name__)
        return estimate(q)

    monkeypatch.setattr(limits, "estimate", counting)
    if method == "post":
        r = client.post(path, json=params)
    else:
        r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    assert len(calls) == 1, calls
    if method == "get" and path.startswith("/api/") and not path.endswith(".csv"):
        calls.clear()
        assert client.get(path, params=params).content == r.content
        assert calls == []


def test_each_app_has_the_budget_of_its_own_settings(make_client):
    """Settings live in the app (app.state): an app with a small budget and one with the
    default serve side by side, each by its own."""
    small, default = make_client(cost_budget=SMALL_BUDGET), make_client()
    path, params, _ = OVER[0]
    assert small.get(path, params=params).status_code == 422
    assert default.get(path, params=params).status_code == 200
    assert small.app.state.runtime.budget == SMALL_BUDGET
    assert default.app.state.runtime.budget == Settings().cost_budget
    assert small.app.state.runtime.cache is not default.app.state.runtime.cache


def test_computing_outside_a_request_needs_a_runtime():
    q = GradientFlowQuery(seq_len=3)
    with pytest.raises(RuntimeError, match="no runtime"):
        compute.run_gradient_flow(q)
    with compute.using(compute.Runtime.of(Settings())):
        assert compute.run_gradient_flow(q).config.seq_len == 3
