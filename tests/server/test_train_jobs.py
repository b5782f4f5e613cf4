"""Training jobs over HTTP (server/train_api.py, server/jobs.py): events arrive in order and
end with the result, which is the engine's own result for that configuration; the cache
answers a repeated configuration; cancel, the time bound, a full queue, a client that left;
the worker's BLAS pin; the same jobs on a Dask LocalCluster; every refusal."""

import json
import math
import time

import pytest
from fastapi.testclient import TestClient

from bpttlab.engine.training import TrainConfig, sweep, train
from bpttlab.server.app import create_app
from bpttlab.server.settings import Settings

from .conftest import sse_events

SMALL = {"task": "recall", "length": 4, "cell": "gru", "hidden_size": 8, "steps": 30,
         "batch_size": 16, "profile_every": 10, "eval_size": 32}  # fmt: skip
LONG = {**SMALL, "hidden_size": 64, "steps": 5000, "batch_size": 64, "length": 40}


def wait_until(check, timeout=30.0, every=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def events_of(client, job_id, headers=None):
    """A training job's SSE stream parsed: [(id, event, data)]."""
    return sse_events(client, f"/api/v1/train/{job_id}/events", headers)


@pytest.fixture(scope="module")
def client():
    app = create_app(Settings(train_workers=1, train_queue=2, train_grace=60))
    with TestClient(app) as c:
        yield c


def test_events_arrive_in_order_and_end_with_the_engines_own_result(client):
    r = client.post("/api/v1/train", json=SMALL)
    assert r.status_code == 202
    job = r.json()
    assert (
        job["status"] in ("queued", "running")
        and job["events"] == f"/api/v1/train/{job['id']}/events"
    )
    events = events_of(client, job["id"])
    ids = [i for i, _, _ in events]
    assert ids == list(range(len(events)))
    kinds = [k for _, k, _ in events]
    assert kinds[0] == "started" and kinds[-1] == "result" and set(kinds[1:-1]) == {"progress"}
    # every step once, in order, across the progress events
    steps = [
        d["first_step"] + i
        for _, k, d in events
        if k == "progress"
        for i in range(len(d["records"]["step"]))
    ]
    assert steps == list(range(SMALL["steps"]))
    profiled = [p["step"] for _, k, d in events if k == "progress" for p in d["profiles"]]
    assert profiled == [0, 10, 20]
    result = events[-1][2]
    expected = train(TrainConfig(**SMALL)).to_json()
    assert result["status"] == "finished"
    assert result["result"] == json.loads(json.dumps(expected))  # bit for bit, via JSON
    state = client.get(f"/api/v1/train/{job['id']}").json()
    assert state["status"] == "finished" and state["step"] == SMALL["steps"]
    assert state["result"] == result["result"]
    # a client that reconnects after event 2 receives the rest only
    again = events_of(client, job["id"], headers={"Last-Event-ID": "2"})
    assert [i for i, _, _ in again] == ids[3:]


def test_the_worker_runs_with_one_blas_thread_pinned_before_numpy(client):
    job = client.post("/api/v1/train", json={**SMALL, "seed": 1}).json()
    started = events_of(client, job["id"])[0][2]
    assert started["worker"]["blas_threads"] == "1"
    assert started["worker"]["pinned_before_numpy"] is True


def test_a_repeated_configuration_is_answered_from_the_cache(client):
    first = client.post("/api/v1/train", json={**SMALL, "seed": 2}).json()
    events_of(client, first["id"])  # to the end
    r = client.post("/api/v1/train", json={**SMALL, "seed": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["cached"] is True and body["status"] == "finished"
    assert body["result"] == client.get(f"/api/v1/train/{first['id']}").json()["result"]
    assert [k for _, k, _ in events_of(client, body["id"])] == ["result"]


def test_cancel_stops_a_running_job_within_a_second(client):
    job = client.post("/api/v1/train", json=LONG).json()
    wait_until(lambda: client.get(f"/api/v1/train/{job['id']}").json()["step"])
    start = time.monotonic()
    r = client.delete(f"/api/v1/train/{job['id']}")
    assert r.status_code == 200 and r.json()["reason"] == "request"
    state = wait_until(
        lambda: (s := client.get(f"/api/v1/train/{job['id']}").json())["status"] != "running" and s
    )
    assert time.monotonic() - start < 1.0
    assert state["status"] == "cancelled"
    assert state["result"]["steps_done"] < LONG["steps"]


def test_a_sweep_runs_every_cell_at_every_length():
    app = create_app(Settings(train_workers=1))
    plan = {"cells": ["rnn", "gru"], "lengths": [3, 5]}
    with TestClient(app) as c:
        job = c.post("/api/v1/train", json={**SMALL, "steps": 10, "sweep": plan}).json()
        events = events_of(c, job["id"])
    runs = {d["run"] for _, k, d in events if k == "progress"}
    assert runs == {0, 1, 2, 3}
    got = events[-1][2]["result"]
    want = sweep(TrainConfig(**{**SMALL, "steps": 10}), plan["cells"], plan["lengths"]).to_json()
    assert got == json.loads(json.dumps(want))


def test_a_full_queue_answers_503_with_retry_after():
    app = create_app(Settings(train_workers=1, train_queue=0, train_max_seconds=20))
    with TestClient(app) as c:
        running = c.post("/api/v1/train", json=LONG)
        assert running.status_code == 202
        r = c.post("/api/v1/train", json={**LONG, "seed": 5})
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["errors"][0]["field"] == "queue"
        # the same configuration joins the running job instead
        same = c.post("/api/v1/train", json=LONG)
        assert same.status_code == 202 and same.json()["id"] == running.json()["id"]
        c.delete(f"/api/v1/train/{running.json()['id']}")


def test_a_job_over_its_time_bound_ends_with_status_timeout():
    app = create_app(Settings(train_max_seconds=0.5))
    with TestClient(app) as c:
        job = c.post("/api/v1/train", json=LONG).json()
        end = events_of(c, job["id"])[-1][2]
    assert end["status"] == "timeout"
    assert 0 < end["result"]["steps_done"] < LONG["steps"]


def test_a_job_nobody_asks_for_is_cancelled_after_the_grace_period():
    app = create_app(Settings(train_grace=1.0))
    with TestClient(app) as c:
        job_id = c.post("/api/v1/train", json=LONG).json()["id"]
        jobs = app.state.jobs  # read directly: asking over HTTP would count as a client
        job = wait_until(lambda: jobs._jobs[job_id].done and jobs._jobs[job_id], timeout=15)
    assert job.status == "cancelled" and job.reason == "abandoned"


@pytest.mark.parametrize(
    ("body", "field", "limit"),
    [
        ({"hidden_size": 1000}, "hidden_size", {"ge": 4, "le": 256}),
        ({"cell": "transformer"}, "cell", {"choices": ["rnn", "lstm", "gru"]}),
        ({"steps": 6000}, "steps", {"le": 5000}),
        ({"hiden_size": 8}, "hiden_size", None),
        (
            {"sweep": {"cells": ["rnn", "lstm", "gru"], "lengths": [2, 3, 4, 5, 6]}},
            "sweep",
            {"le": 12},
        ),
        ({"sweep": {"cells": ["cnn"], "lengths": [2]}}, "sweep.cells", None),
        ({"sweep": {"cells": ["rnn"], "lengths": [5000]}}, "sweep.lengths", None),
    ],
)
def test_refusals_name_the_field_and_the_limit(client, body, field, limit):
    r = client.post("/api/v1/train", json={**SMALL, **body})
    assert r.status_code == 422
    item = r.json()["errors"][0]
    assert item["field"] == field
    if limit is not None:
        assert item["limit"] == limit


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_unknown_job_is_a_404(client, method):
    r = client.request(method, "/api/v1/train/nope")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "id"
    assert client.get("/api/v1/train/nope/events").status_code == 404


def test_the_same_jobs_run_on_a_dask_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:  # fmt: skip
        app = create_app(Settings(dask_scheduler=cluster.scheduler_address))
        with TestClient(app) as c:
            job = c.post("/api/v1/train", json={**SMALL, "seed": 9}).json()
            events = events_of(c, job["id"])
            cancel_me = c.post("/api/v1/train", json=LONG).json()
            wait_until(lambda: c.get(f"/api/v1/train/{cancel_me['id']}").json()["step"])
            c.delete(f"/api/v1/train/{cancel_me['id']}")
            end = events_of(c, cancel_me["id"])[-1][2]
    assert events[-1][2]["result"] == json.loads(
        json.dumps(train(TrainConfig(**{**SMALL, "seed": 9})).to_json())
    )
    assert end["status"] == "cancelled"


def test_the_figures_draw_the_jobs_numbers_and_say_them(client):
    config = {**SMALL, "seed": 3, "clip_threshold": 0.05, "symbols": 8}
    job = client.post("/api/v1/train", json=config).json()
    events_of(client, job["id"])
    body = client.get(f"/api/v1/train/{job['id']}/figures").json()
    result = client.get(f"/api/v1/train/{job['id']}").json()["result"]
    figs = body["figures"]
    assert set(figs) == {"loss", "gradient", "profile"}
    loss = figs["loss"]["figure"]
    assert loss["data"][0]["y"] == result["records"]["loss"]
    assert loss["data"][0]["mode"] == "lines"
    assert loss["data"][1]["y"] == result["records"]["accuracy"]
    levels = sorted(s["y0"] for s in loss["layout"]["shapes"])
    assert levels == pytest.approx(sorted([math.log(config["symbols"]), 1 / config["symbols"]]))
    final = result["final"]["accuracy"]
    assert f"held-out accuracy {final:.3g}" in figs["loss"]["summary"]
    fired = sum(result["records"]["clipped"])
    assert fired > 0  # the threshold is low enough that clipping fires
    assert figs["gradient"]["summary"].startswith(f"Clipping (norm) fired at {fired} of 30 steps")
    norms = [v for v in result["records"]["grad_norm"] + result["records"]["clipped_norm"] if v]
    assert f"ranged from {min(norms):.3g} to {max(norms):.3g}." in figs["gradient"]["summary"]
    marks = figs["gradient"]["figure"]["data"][2]
    assert len(marks["x"]) == fired
    profile = figs["profile"]["figure"]["data"]
    assert [d["name"] for d in profile] == ["at initialisation", "at step 20"]
    first = result["profiles"][0]["log10_dh"]
    assert profile[0]["y"] == [None if v is None else 10.0**v for v in first]


def test_the_figures_of_a_running_job_show_the_steps_so_far(client):
    job = client.post("/api/v1/train", json={**LONG, "seed": 4}).json()
    wait_until(lambda: (client.get(f"/api/v1/train/{job['id']}").json()["step"] or 0) > 2)
    body = client.get(f"/api/v1/train/{job['id']}/figures").json()
    client.delete(f"/api/v1/train/{job['id']}")
    steps = body["figures"]["loss"]["figure"]["data"][0]["x"]
    assert steps == list(range(len(steps))) and 0 < len(steps) < LONG["steps"]
    assert body["figures"]["profile"]["figure"]["data"][0]["name"] == "at initialisation"


def test_a_job_that_fails_in_its_worker_ends_with_a_failure_event(client):
    """A request the API would refuse, given to the manager directly: the worker's error
    comes back as the last event (`failure`, not EventSource's own `error`), status failed."""
    from bpttlab.server.train_api import jobs_of

    jobs = jobs_of(type("R", (), {"app": client.app})())
    job = jobs.submit({"config": {**SMALL, "hidden_size": 1}, "sweep": None, "max_seconds": 5})
    events = events_of(client, job.id)
    kind, data = events[-1][1], events[-1][2]
    assert kind == "failure" and "hidden_size must be in 4..256" in data["message"]
    assert client.get(f"/api/v1/train/{job.id}").json()["status"] == "failed"


def test_a_job_whose_executor_cannot_start_it_fails_with_the_reason():
    """A Dask scheduler nobody listens on: the POST still answers (the job, failed, with the
    reason as its last event), never a 500, and the next job is not stuck behind it."""
    app = create_app(Settings(dask_scheduler="tcp://127.0.0.1:9", train_workers=1))
    with TestClient(app) as c:
        r = c.post("/api/v1/train", json=SMALL)
        assert r.status_code == 202
        job_id = r.json()["id"]
        state = c.get(f"/api/v1/train/{job_id}").json()
        assert state["status"] == "failed"
        end = events_of(c, job_id)[-1]
        assert end[1] == "failure" and "could not start" in end[2]["message"]
        assert c.post("/api/v1/train", json={**SMALL, "seed": 8}).status_code == 202


def test_the_gradient_caption_ranges_over_the_norms_not_the_threshold():
    """The clipping threshold is drawn on the axis but is not a measured norm."""
    from bpttlab.server.figures.training import gradient_figure

    view = {
        "config": {"clip": "norm", "clip_threshold": 1.0}, "steps": 1,
        "records": {"step": [0], "grad_norm": [0.293], "clipped_norm": [0.293],
                    "clipped": [False]},
    }  # fmt: skip
    fig = gradient_figure(view)
    summary = fig["summary"]
    assert fig["figure"]["data"][0]["mode"] == "lines+markers"  # one step: a line is not seen
    assert summary == (
        "Clipping (norm) fired at 0 of 1 steps. The gradient norm ranged from 0.293 to 0.293."
    )


def test_a_sweeps_points_arrive_as_its_runs_end_and_its_progress_covers_the_whole_sweep():
    from bpttlab.engine.cells import get_cell
    from bpttlab.engine.tasks import make_task

    app = create_app(Settings(train_workers=1))
    plan = {"cells": ["rnn", "gru"], "lengths": [6, 3]}
    config = {**SMALL, "steps": 12, "seed": 11}
    with TestClient(app) as c:
        job = c.post("/api/v1/train", json={**config, "sweep": plan}).json()
        events = events_of(c, job["id"])
        figs = c.get(f"/api/v1/train/{job['id']}/figures").json()["figures"]
    result = events[-1][2]["result"]
    order = [(cell, n) for cell in plan["cells"] for n in plan["lengths"]]
    # one point per run, as it ends: after its run's last progress, before the next run's
    points = [(i, d) for i, (_, k, d) in enumerate(events) if k == "point"]
    assert [d["run"] for _, d in points] == [0, 1, 2, 3]
    assert [d["point"] for _, d in points] == result["points"]
    assert [(d["point"]["cell"], d["point"]["length"]) for _, d in points] == order
    progress = [(i, d) for i, (_, k, d) in enumerate(events) if k == "progress"]
    for at, d in points:
        mine = [i for i, p in progress if p["run"] == d["run"]]
        later = [i for i, p in progress if p["run"] > d["run"]]
        assert max(mine) < at and all(at < i for i in later)
    # each progress event names its run and says how much of the whole sweep is done, each
    # run weighed by its sequence length times its cell's gate rows
    weights = [make_task("recall", n, 8).seq_len * get_cell(cell).gate_rows for cell, n in order]
    for _, p in progress:
        assert (p["cell"], p["length"]) == order[p["run"]] and p["runs"] == 4
        want = (sum(weights[: p["run"]]) + weights[p["run"]] * p["step"] / p["steps"]) / sum(
            weights
        )
        assert p["done"] == pytest.approx(want, abs=1e-4)
        assert p["left"] is None or p["left"] >= 0
    dones = [p["done"] for _, p in progress]
    assert dones == sorted(dones) and dones[-1] == 1.0
    spent = [p["job_elapsed"] for _, p in progress]
    assert spent == sorted(spent)
    # the finished sweep's figure: every point, each cell's in order of L
    data = figs["sweep"]["figure"]["data"]
    assert [d["name"] for d in data] == ["RNN", "GRU"]
    for trace, cell in zip(data, plan["cells"], strict=True):
        mine = sorted((p for p in result["points"] if p["cell"] == cell), key=lambda p: p["length"])
        assert trace["x"] == [3, 6] and trace["y"] == [p["accuracy"] for p in mine]
    assert figs["sweep"]["summary"].startswith("4 of 4 runs finished.")


def _sweep_job(points, lengths=(10, 20, 50), cells=("rnn", "gru"), task="recall"):
    from bpttlab.server.jobs import Job

    request = {"config": {**TrainConfig().__dict__, "task": task, "length": 10},
               "sweep": {"cells": list(cells), "lengths": list(lengths)}}  # fmt: skip
    job = Job("x", "k", request, status="running")
    job.events = [{"type": "started"}] + [
        {"type": "point", "run": i, "runs": len(cells) * len(lengths), "point": p}
        for i, p in enumerate(points)
    ]
    return job


def _point(cell, length, accuracy, status="finished", mse=None):
    return {"cell": cell, "length": length, "status": status, "accuracy": accuracy, "mse": mse,
            "loss": 1.0, "chance_accuracy": 0.125, "baseline_loss": math.log(8)}  # fmt: skip


def test_the_sweep_figure_of_a_running_sweep_shows_the_runs_ended_so_far():
    from bpttlab.server.figures.training import training_figures
    from bpttlab.server.jobs import training_view

    points = [_point("rnn", 10, 1.0), _point("rnn", 20, 0.95), _point("rnn", 50, 0.2)]
    fig = training_figures(training_view(_sweep_job(points)))["sweep"]
    rnn, gru = fig["figure"]["data"]
    assert rnn["x"] == [10, 20, 50] and rnn["y"] == [1.0, 0.95, 0.2]
    assert gru["x"] == [] and gru["y"] == []
    assert fig["summary"] == (
        "3 of 6 runs finished. RNN holds at L = 10, 20; 0.2 at L = 50. "
        "Holding means a held-out accuracy of at least 0.9; chance is 0.125."
    )
    # a cell that holds at the lengths run so far is not said to hold "at every L" yet
    more = training_figures(training_view(_sweep_job([*points, _point("gru", 10, 1.0)])))
    assert more["sweep"]["summary"].startswith(
        "4 of 6 runs finished. RNN holds at L = 10, 20; 0.2 at L = 50. GRU holds at L = 10. "
    )
    chance = [s["y0"] for s in fig["figure"]["layout"]["shapes"]]
    assert chance == [0.125]
    assert fig["figure"]["layout"]["xaxis"]["type"] == "log"  # L spans a factor 5 or more


def test_the_sweep_caption_says_where_each_cell_holds_from_its_numbers():
    from bpttlab.server.figures.training import training_figures
    from bpttlab.server.jobs import training_view

    points = [
        _point("rnn", 50, 0.3), _point("rnn", 10, 0.5), _point("rnn", 20, None, "diverged"),
        _point("gru", 10, 0.9), _point("gru", 20, 1.0), _point("gru", 50, 0.99),
    ]  # fmt: skip
    fig = training_figures(training_view(_sweep_job(points)))["sweep"]
    assert fig["summary"] == (
        "6 of 6 runs finished. RNN holds at no L; 0.5 at L = 10, 0.3 at L = 50; "
        "no score at L = 20 (diverged). GRU holds at every L (10, 20, 50). "
        "Holding means a held-out accuracy of at least 0.9; chance is 0.125."
    )
    rnn = fig["figure"]["data"][0]
    assert rnn["x"] == [10, 20, 50] and rnn["y"] == [0.5, None, 0.3]


def test_the_sweep_figure_of_the_adding_task_draws_the_mse_against_its_baseline():
    from bpttlab.server.figures.training import training_figures
    from bpttlab.server.jobs import training_view

    def point(cell, length, mse):
        return {**_point(cell, length, None, mse=mse), "chance_accuracy": None,
                "baseline_loss": 1 / 6}  # fmt: skip

    points = [point("lstm", 10, 0.01), point("lstm", 20, 0.17)]
    job = _sweep_job(points, lengths=(10, 20), cells=("lstm",), task="adding")
    fig = training_figures(training_view(job))["sweep"]
    assert fig["title"] == "Final MSE against L"
    assert fig["figure"]["data"][0]["y"] == [0.01, 0.17]
    assert [s["y0"] for s in fig["figure"]["layout"]["shapes"]] == [pytest.approx(1 / 6)]
    assert "type" not in fig["figure"]["layout"]["xaxis"]  # 10 to 20: a linear axis
    assert fig["summary"] == (
        "2 of 2 runs finished. LSTM holds at L = 10; 0.17 at L = 20. Holding means a held-out "
        "MSE of at most 0.0167; the memoryless baseline is 0.167."
    )
