"""HTTP caching (strong ETag, Cache-Control, 304) and the in-process cache bounded in bytes."""

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from bpttlab.server import compute
from bpttlab.server.caching import ByteLRU, sizeof
from bpttlab.server.responses import none_match, strong_etag
from bpttlab.server.schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery

from .conftest import until

# every compute GET, as a page or the API serves it, with a query that is not the default
COMPUTE_GETS = [
    ("/api/v1/gradient-flow", {"seq_len": 30}),
    ("/api/v1/gradient-flow/figures", {"seq_len": 30}),
    ("/api/v1/gradient-flow/pytorch", {"seq_len": 30}),
    ("/api/v1/compare", {"seq_len": 30}),
    ("/api/v1/compare/figures", {"seq_len": 30}),
    ("/api/v1/cliff", {"resolution": 11, "seq_len": 20}),
    ("/api/v1/cliff/figures", {"resolution": 11, "seq_len": 20}),
    ("/api/v1/eigen", {"seq_len": 30}),
    ("/api/v1/eigen/figures", {"seq_len": 30}),
    ("/explore", {"seq_len": 30}),
    ("/compare", {"seq_len": 30}),
    ("/cliff", {"resolution": 11, "seq_len": 20}),
    ("/eigen", {"seq_len": 30}),
]
MODELS = {"gradient-flow": GradientFlowQuery, "compare": CompareQuery}
MODELS |= {"cliff": CliffQuery, "eigen": EigenQuery}
API_GETS = [(path, params) for path, params in COMPUTE_GETS if path.startswith("/api/")]


@pytest.mark.parametrize(("path", "params"), COMPUTE_GETS)
def test_a_compute_get_is_cacheable_and_revalidates_to_304(client, path, params):
    r = client.get(path, params=params)
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert r.headers["cache-control"] == "public, max-age=3600"
    assert etag == strong_etag(r.content)  # the tag is the hash of the body
    for header in (etag, f"W/{etag}", f'"other", {etag}', f'W/"other",W/{etag}', "*"):
        again = client.get(path, params=params, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=3600"
    stale = client.get(path, params=params, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag


@pytest.mark.parametrize(("path", "params"), API_GETS)
def test_the_tag_is_a_function_of_the_normalised_query(client, path, params):
    """Defaults filled in: spelling a default out, or reordering, gives the same response."""
    model = MODELS[path.split("/")[3]]
    plain = client.get(path)
    spelled = {k: model.model_fields[k].default for k in reversed(params)}  # said out loud
    assert client.get(path, params=spelled).headers["etag"] == plain.headers["etag"]
    assert client.get(path, params=params).headers["etag"] != plain.headers["etag"]


@pytest.mark.parametrize("page", ["/explore", "/compare", "/eigen"])
def test_a_page_spelling_out_a_default_is_the_same_page(client, page):
    assert (
        client.get(page, params={"seq_len": 100 if page != "/eigen" else 50}).headers["etag"]
        == client.get(page).headers["etag"]
    )


@pytest.mark.parametrize(("path", "params"), API_GETS)
def test_the_same_query_gives_the_same_bytes_after_the_cache_is_emptied(client, path, params):
    first = client.get(path, params=params)
    # an empty cache: computed anew
    client.app.state.runtime = compute.Runtime.of(client.app.state.settings)
    second = client.get(path, params=params)
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/gradient-flow", {"seq_len": 5000}, 422),
        ("/api/v1/cliff", {"w_max": 0}, 422),
        ("/api/v1/nothing", {}, 404),
    ],
)
def test_errors_are_not_marked_cacheable(client, path, params, status):
    r = client.get(path, params=params)
    assert r.status_code == status
    assert "etag" not in r.headers
    assert "public" not in r.headers.get("cache-control", "")


def test_post_is_not_cached(client):
    r = client.post("/api/v1/gradient-flow", json={"seq_len": 30})
    assert r.status_code == 200
    assert "etag" not in r.headers and "cache-control" not in r.headers


def test_health_is_never_cached(client):
    r = client.get("/api/v1/health")
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers


def test_max_age_is_a_setting(make_client):
    r = make_client(cache_max_age=60).get("/api/v1/eigen")
    assert r.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ('"x",W/"abc" , "y"', True),
        ("*", True),
        ('"abcd"', False),
        ('"ab"', False),
        ("abc", False),  # not a quoted tag
        ("", False),
    ],
)
def test_if_none_match_compares_weakly(header, matches):
    assert none_match(header, '"abc"') is matches


def test_a_cache_hit_is_not_computed_again(client, monkeypatch):
    client.get("/api/v1/gradient-flow", params={"seed": 4242, "seq_len": 20})

    def refuse(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(compute, "gradient_flow", refuse)
    assert client.get("/api/v1/gradient-flow", params={"seq_len": 20, "seed": 4242}).is_success
    # another representation of the same configuration reuses the result
    assert client.get("/api/v1/gradient-flow/figures", params={"seed": 4242, "seq_len": 20})
    with pytest.raises(AssertionError, match="computed again"):
        client.get("/api/v1/gradient-flow", params={"seed": 4243, "seq_len": 20})


def test_a_repeated_request_is_answered_from_the_cache_before_validation(client, monkeypatch):
    """The query string as sent points at the kept body: the route's handler is not called
    again; the same query spelled differently is validated, then shares the body."""
    from bpttlab.server import api

    first = client.get("/api/v1/eigen?seq_len=31&seed=5")

    def refuse(*args, **kwargs):
        raise AssertionError("handled again")

    monkeypatch.setattr(api, "cached_response", refuse)
    again = client.get("/api/v1/eigen?seq_len=31&seed=5")
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    with pytest.raises(AssertionError, match="handled again"):
        client.get("/api/v1/eigen?seed=5&seq_len=31")


@pytest.mark.parametrize("accept", ["gzip", "gzip, deflate, br", "identity", ""])
def test_kept_bodies_are_sent_gzipped_when_accepted_with_one_tag(client, accept):
    path = "/api/v1/gradient-flow?seq_len=44"
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    r = client.get(path, headers={"Accept-Encoding": accept})
    assert r.headers.get("content-encoding") == ("gzip" if "gzip" in accept else None)
    assert "Accept-Encoding" in [v.strip() for v in r.headers["vary"].split(",")]
    assert r.content == plain.content  # httpx decodes gzip
    assert r.headers["etag"] == plain.headers["etag"] == strong_etag(plain.content)


# the byte-bounded LRU


@dataclass(frozen=True)
class _Result:
    a: np.ndarray
    parts: tuple
    named: dict


def test_sizeof_sums_array_bytes_through_containers():
    value = _Result(
        a=np.zeros((10, 10)),  # 800
        parts=(np.zeros(5), [np.zeros(3, dtype=np.float32)], b"12345"),  # 40 + 12 + 5
        named={"x": np.zeros(2)},  # 1 (the key) + 16
    )
    assert sizeof(value) == 800 + 40 + 12 + 5 + 1 + 16
    assert sizeof(np.zeros((1000, 1000))[:10]) == 80_000  # a view counts what it shows
    assert sizeof(3.0) == sizeof(None) == 64


def test_eviction_is_by_bytes_least_recently_used_first():
    cache = ByteLRU(1000)
    for key in "abc":
        assert cache.put(key, np.zeros(40))  # 320 bytes each
    assert cache.bytes == 960 and len(cache) == 3
    assert cache.get_or_compute("a", lambda: None) is not None  # a is now the most recent
    cache.put("d", np.zeros(40))
    assert "b" not in cache and {"a", "c", "d"} == {k for k in "abcd" if k in cache}
    assert cache.evictions == 1 and cache.bytes == 960
    cache.put("e", np.zeros(100))  # 800 bytes: three must go
    assert [k for k in "abcde" if k in cache] == ["e"]
    assert cache.bytes == 800 and cache.evictions == 4


def test_a_value_larger_than_the_budget_is_returned_but_not_kept():
    cache = ByteLRU(1000)
    cache.put("small", np.zeros(10))
    big = cache.get_or_compute("big", lambda: np.zeros(200))  # 1600 bytes
    assert big.shape == (200,)
    assert "big" not in cache and "small" in cache and cache.bytes == 80


def test_hits_and_misses_are_counted():
    cache = ByteLRU(10_000)
    calls = []

    def make():
        calls.append(1)
        return np.ones(3)

    for _ in range(3):
        cache.get_or_compute("k", make)
    cache.get_or_compute("other", make)
    assert (cache.hits, cache.misses, len(calls)) == (2, 2, 2)


def test_replacing_a_key_keeps_the_byte_count_right():
    cache = ByteLRU(1000)
    cache.put("k", np.zeros(50))
    cache.put("k", np.zeros(10))
    assert cache.bytes == 80 and len(cache) == 1


def test_equal_concurrent_requests_compute_once():
    cache = ByteLRU(10_000)
    release, calls, results = threading.Event(), [], []

    def slow():
        calls.append(1)
        release.wait(10)
        return np.arange(3)

    def ask():
        results.append(cache.get_or_compute("k", slow))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    until(lambda: cache.waiting == 3)  # one computes, three wait for it
    release.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(results) == 4
    assert all(r is results[0] for r in results)


def test_a_failed_computation_is_not_cached_and_the_waiters_try_again():
    cache = ByteLRU(10_000)
    release, calls = threading.Event(), []

    def fails_first():
        calls.append(1)
        if len(calls) == 1:
            release.wait(10)
            raise RuntimeError("first")
        return "second"

    errors, values = [], []

    def ask():
        try:
            values.append(cache.get_or_compute("k", fails_first))
        except RuntimeError as e:
            errors.append(e)

    first = threading.Thread(target=ask)
    first.start()
    until(lambda: len(calls) == 1)
    waiter = threading.Thread(target=ask)
    waiter.start()
    until(lambda: cache.waiting == 1)
    release.set()
    first.join(10)
    waiter.join(10)
    assert [str(e) for e in errors] == ["first"] and values == ["second"]
    assert "k" in cache
