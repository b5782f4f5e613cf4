"""Training jobs: a bounded queue in front of worker processes, their events, their results.

A job is one training run or one sweep (server/train_worker.py runs it). ``JobManager``
(``app.state.jobs``, made at the first job) keeps every job by id:

- at most ``train_workers`` run at once, at most ``train_queue`` more wait; a job beyond
  that is refused (``QueueFull``: the API answers 503 with Retry-After);
- a job's events (started, progress, result or error) are kept in order, so a client that
  connects late, or again, receives them all from the start (or after its Last-Event-ID);
- a job is cancelled on request, after ``train_max_seconds`` (status ``timeout``, by the
  worker), or when nobody has asked for it (its events or its state) for
  ``train_grace`` seconds: a browser that left;
- the same configuration gives the same numbers (the engine is deterministic), so finished
  results are kept by configuration (``train_cache`` of them, least recently used evicted)
  and a repeated request is answered from them at once; a request equal to a job still
  running joins that job.

The executor is pluggable: ``LocalExecutor`` (a process pool, BLAS pinned to one thread in
each worker before NumPy loads) by default, ``DaskExecutor`` when ``dask_scheduler`` names a
Dask distributed scheduler (``BPTTLAB_DASK_SCHEDULER=tcp://host:8786``): the same function
runs on the cluster's workers, which need bpttlab installed.

The same manager runs the analyses of uploaded models (server/model_api.py): a second
instance made with that work's ``run`` function (server/model_worker.py), its own ``Policy``
(``model_workers``, ``model_queue``, ...) and the local pool always.

Jobs live in the memory of the server process that took them: with several server worker
processes (``workers`` > 1), a job's later requests may reach another process, which does not
know it (404). Run the training API with one server process (the jobs themselves still run
in their own processes or on the cluster).
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import train_worker

ENDED = ("finished", "cancelled", "diverged", "timeout", "failed")
CONNECT_SECONDS = 3  # to reach a Dask scheduler: a job that cannot start fails this fast


class QueueFull(Exception):
    """Every worker is busy and the queue is full; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int):
        super().__init__("the queue is full")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Policy:
    """The bounds of one kind of job: workers at once, queued beyond them, the wall seconds
    of one job (its retry hint), the grace of a job nobody asks for, results kept."""

    workers: int
    queue: int
    max_seconds: float
    grace: float
    cache: int

    @classmethod
    def training(cls, s) -> Policy:
        return cls(s.train_workers, s.train_queue, s.train_max_seconds, s.train_grace,
                   s.train_cache)  # fmt: skip


@dataclass
class Job:
    """status : queued | running | finished | cancelled | diverged | timeout | failed;
    events : in order (see train_worker); result : the final result (JSON) once ended."""

    id: str
    key: str
    request: dict
    status: str = "queued"
    events: list[dict] = field(default_factory=list)
    result: dict | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    last_seen: float = field(default_factory=time.monotonic)
    cached: bool = False
    reason: str | None = None  # why a job was cancelled: "request" or "abandoned"
    handle: Any = None  # the executor's handle while it runs

    @property
    def done(self) -> bool:
        return self.status in ENDED

    def state(self) -> dict:
        """What GET /api/v1/train/{id} answers (the result once ended)."""
        progress = next((e for e in reversed(self.events) if e["type"] == "progress"), {})
        return {
            "id": self.id,
            "status": self.status,
            "cached": self.cached,
            "reason": self.reason,
            "created": self.created,
            "elapsed": None if self.started is None else (self.ended or time.time()) - self.started,
            "step": progress.get("step"),
            "steps": progress.get("steps"),
            "run": progress.get("run"),
            "runs": progress.get("runs"),
            "events": len(self.events),
            "request": self.request,
            "result": self.result,
        }


def training_view(job: Job) -> dict:
    """What the job's figures are drawn from (server/figures/training.py): its records so far
    as columns (all of them from the result once it has ended), its profiles, the task's
    chance and memoryless levels, the final evaluation and a sweep's points (those of its
    `point` events while it runs, the result's once it has ended)."""
    from ..engine.tasks import make_task

    config, result = job.request["config"], job.result
    task = make_task(config["task"], config["length"], config["symbols"])
    if result is not None:
        points = result.get("points", [])
    else:  # a sweep still running: the runs that have ended so far
        points = [e["point"] for e in job.events if e["type"] == "point"]
    if result is not None and job.request.get("sweep") is None:
        records, profiles = result["records"], result["profiles"]
    else:
        records, profiles = {}, []
        for event in job.events:
            if event["type"] != "progress" or event["run"] != 0:
                continue
            for name, values in event["records"].items():
                records.setdefault(name, []).extend(values)
            profiles.extend(event["profiles"])
    return {
        "config": config,
        "sweep": job.request.get("sweep"),
        "steps": config["steps"],
        "records": records,
        "profiles": profiles,
        "baseline_loss": task.baseline_loss,
        "chance_accuracy": task.chance_accuracy,
        "final": None if result is None else result.get("final"),
        "sweep_points": points,
    }


def job_key(request: dict) -> str:
    """The configuration as canonical JSON: equal requests, equal keys."""
    return json.dumps({"config": request["config"], "sweep": request.get("sweep")}, sort_keys=True)


class Executor(Protocol):
    def start(self, job: Job, on_event) -> Any:
        """Start ``job``; call on_event(event) for each of its events, in order, from a
        thread of the executor's; return a handle for ``cancel``."""

    def cancel(self, handle: Any) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A pool of spawned worker processes with BLAS pinned to one thread; events through a
    multiprocessing manager's queue, the cancel flag through its event."""

    def __init__(self, workers: int, run: Callable = train_worker.run_job):
        context = multiprocessing.get_context("spawn")
        self.run = run  # run(request, channel), a module-level function (it is pickled)
        self.manager = context.Manager()
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=train_worker.pin_blas
        )

    def start(self, job: Job, on_event) -> Any:
        queue, cancel = self.manager.Queue(), self.manager.Event()
        future = self.pool.submit(self.run, job.request, train_worker.QueueChannel(queue, cancel))
        _follow(job, queue, future, on_event)
        return cancel

    def cancel(self, handle: Any) -> None:
        try:
            handle.set()
        except (ConnectionError, EOFError):  # the manager is gone (shutting down): nothing to tell
            pass

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.manager.shutdown()


class DaskExecutor:
    """Jobs on a Dask distributed cluster: the client submits train_worker.run_job; events
    come back through a distributed Queue named after the job, cancel goes out through a
    distributed Event."""

    def __init__(self, address: Any):
        from distributed import Client

        own = not hasattr(address, "submit")
        self.client = Client(address, timeout=CONNECT_SECONDS) if own else address
        self.own_client = own

    def start(self, job: Job, on_event) -> Any:
        from distributed import Event, Queue

        name = f"bpttlab-{job.id}"
        queue = Queue(name, client=self.client)
        cancel = Event(name + "-cancel", client=self.client)
        future = self.client.submit(
            train_worker.run_job, job.request, train_worker.DaskChannel(name), pure=False,
            key=name,
        )  # fmt: skip
        _follow(job, queue, future, on_event)
        return cancel

    def cancel(self, handle: Any) -> None:
        handle.set()

    def close(self) -> None:
        if self.own_client:
            self.client.close()


def _follow(job: Job, queue: Any, future: Any, on_event) -> None:
    """A thread that passes the job's events on (``_collect``), reading its queue with a
    timeout so that a job that died is noticed."""
    threading.Thread(
        target=_collect, args=(lambda: queue.get(timeout=0.5), future, on_event),
        daemon=True, name=f"bpttlab-job-{job.id}",
    ).start()  # fmt: skip


def _collect(get, future, on_event) -> None:
    """Pass a job's events on until its result or failure event; if the job dies without
    one (a worker killed), a failure event ends it."""
    while True:
        try:
            event = get()
        except (ConnectionError, EOFError):  # the channel itself is gone (the server shuts down)
            if not future.done():
                future.cancel()
            return
        except Exception:  # nothing within the timeout (queue.Empty, TimeoutError)
            if future.done():
                error = _failure(future)
                if error is not None:
                    on_event({"type": "failure", "message": error})
                    return
            continue
        on_event(event)
        if event["type"] in ("result", "failure"):
            return


def _failure(future) -> str | None:
    """Why a finished future ended without its result event (None: it did not fail)."""
    try:
        exc = future.exception(timeout=0)
    except Exception as e:  # cancelled, or the Dask future's own errors
        return f"the job did not run: {type(e).__name__}"
    if exc is not None:
        return f"the worker failed: {type(exc).__name__}: {exc}"
    return "the worker ended without a result"


class JobManager:
    """The jobs of one server process (see the module). policy : the bounds (the training
    settings' by default); run : the worker function, run(request, channel) (training's by
    default; any other always runs in the local pool); key : request -> its cache key."""

    def __init__(
        self, settings, executor: Executor | None = None, *, policy: Policy | None = None,
        run: Callable | None = None, key: Callable[[dict], str] = job_key,
    ):  # fmt: skip
        self.settings = settings
        self.policy = policy or Policy.training(settings)
        self._run = run
        self._key = key
        self._executor = executor
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._waiting: deque[Job] = deque()
        self._running = 0
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._closed = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="bpttlab-jobs").start()

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            s, p = self.settings, self.policy
            if self._run is not None:
                self._executor = LocalExecutor(p.workers, self._run)
            elif s.dask_scheduler:
                self._executor = DaskExecutor(s.dask_scheduler)
            else:
                self._executor = LocalExecutor(p.workers)
        return self._executor

    def submit(self, request: dict) -> Job:
        """A job for ``request``: from the cache (ended at once), the live job with the same
        configuration, or a new one (queued). QueueFull if there is no room."""
        key = self._key(request)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                result = self._cache[key]
                job = self._add(Job(uuid.uuid4().hex, key, request, cached=True))
                self._end(job, {"type": "result", "status": result["status"], "result": result})
                return job
            for job in self._jobs.values():
                if job.key == key and not job.done:
                    job.last_seen = time.monotonic()
                    return job
            p = self.policy
            if self._running >= p.workers and len(self._waiting) >= p.queue:
                raise QueueFull(retry_after=max(1, int(p.max_seconds // 4)))
            job = self._add(Job(uuid.uuid4().hex, key, request))
            self._waiting.append(job)
        self._dispatch()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job (and it counts as seen: a client still wants it)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.last_seen = time.monotonic()
            return job

    def cancel(self, job_id: str, reason: str = "request") -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.done:
                return job
            job.reason = reason
            if job in self._waiting:
                self._waiting.remove(job)
                self._end(job, {"type": "result", "status": "cancelled", "result": None})
                return job
            handle = job.handle
        if handle is not None:
            self.executor.cancel(handle)
        return job

    def close(self) -> None:
        """Cancel what runs, then stop the executor (the server is shutting down)."""
        self._closed.set()
        with self._lock:
            handles = [j.handle for j in self._jobs.values() if not j.done and j.handle]
        if self._executor is not None:
            for handle in handles:
                self._executor.cancel(handle)
            self._executor.close()

    # -- inside ------------------------------------------------------------------------------

    def _add(self, job: Job) -> Job:
        self._jobs[job.id] = job
        while len(self._jobs) > 4 * (self.policy.queue + self.policy.workers) + 64:
            old = next(iter(self._jobs.values()))
            if not old.done:
                break
            del self._jobs[old.id]
        return job

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if self._running >= self.policy.workers or not self._waiting:
                    return
                job = self._waiting.popleft()
                self._running += 1
                job.status = "running"
                job.started = time.time()
            try:
                handle = self.executor.start(job, lambda e, job=job: self._on_event(job, e))
            except Exception as e:  # no executor (a Dask scheduler that cannot be reached)
                message = f"the job could not start: {type(e).__name__}: {e}"
                self._on_event(job, {"type": "failure", "message": message})
                continue
            with self._lock:
                job.handle = handle
                cancelled = job.reason is not None  # asked while it was being started
            if cancelled:
                self.executor.cancel(handle)

    def _on_event(self, job: Job, event: dict) -> None:
        with self._lock:
            if event["type"] in ("result", "failure"):
                self._running -= 1
                self._end(job, event)
            else:
                job.events.append(event)
        self._dispatch()

    def _end(self, job: Job, event: dict) -> None:
        """Under the lock: the job's last event, its status and result; a finished result
        enters the cache."""
        if event["type"] == "failure":
            job.status, job.result = "failed", None
        else:
            job.status, job.result = event["status"], event["result"]
        job.events.append(event)
        job.ended = time.time()
        if job.status in ("finished", "diverged") and not job.cached:
            self._cache[job.key] = job.result
            while len(self._cache) > self.policy.cache:
                self._cache.popitem(last=False)

    def _watch(self) -> None:
        """Cancel the jobs nobody has asked for within the grace period."""
        while not self._closed.wait(0.5):
            now = time.monotonic()
            with self._lock:
                gone = [
                    j.id for j in self._jobs.values()
                    if not j.done and now - j.last_seen > self.policy.grace
                ]  # fmt: skip
            for job_id in gone:
                self.cancel(job_id, reason="abandoned")
