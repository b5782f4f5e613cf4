"""What runs where a training job runs: a worker process of the local pool or a Dask worker.

This module imports nothing heavy at its top: a local worker process runs ``pin_blas`` (the
pool's initializer) before anything imports NumPy, so OpenBLAS starts with one thread (with
its default threading NumPy was measured 10 to 30 times slower at hidden size >= 64 on the
2-core machines). ``run_job`` imports the engine when it runs.

A job reports through a channel: ``put(event)`` sends a JSON-safe dict to the server and
``cancelled()`` says whether the server asked it to stop. Events, in order:

    {"type": "started", "worker": {pid, blas_threads, pinned_before_numpy}}
    {"type": "progress", "run": i, "runs": R, "step": s, "steps": S, "elapsed": seconds,
     "records": {column: [values of the steps since the last progress event]},
     "first_step": the step of the first of those values, "profiles": [{step, log10_dh}],
     "cell", "length": the run's, "job_elapsed": seconds since the job started, "done": the
     fraction of the job's work done, "left": the expected seconds left (None before any
     step)}
    {"type": "point", "run": i, "runs": R, "point": SweepPoint.to_json()}  (a sweep's run
     ended: its cell, length and held-out score)
    {"type": "result", "status": ..., "result": TrainResult.to_json() or SweepResult.to_json()}
    {"type": "failure", "message": ...}  (a failure; the job ends with status "failed")

Progress is sent at most every REPORT_SECONDS (and at every profile step and the last step),
and the cancel flag is read at those moments only (a Dask worker asks the scheduler). A
sweep's runs differ in cost: ``done`` weighs each run by its sequence length times its cell's
gate rows (a step's work), so ``left`` does not count a run at L = 100 like one at L = 10.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Protocol

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
REPORT_SECONDS = 0.2


_PINNED: dict[str, bool] = {}


def pin_blas() -> None:
    """One BLAS thread in this process: call before NumPy is imported (it notes whether
    NumPy was already loaded, which would make the pin too late)."""
    _PINNED["numpy_loaded_before"] = "numpy" in sys.modules
    for name in BLAS_THREADS:
        os.environ[name] = "1"


def worker_info() -> dict:
    """The worker's pid, its BLAS thread setting and whether the pin came before NumPy."""
    return {
        "pid": os.getpid(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "pinned_before_numpy": _PINNED.get("numpy_loaded_before") is False,
    }


class Channel(Protocol):
    def put(self, event: dict) -> None: ...

    def cancelled(self) -> bool: ...


class QueueChannel:
    """The local pool's channel: a multiprocessing manager's queue and event (picklable)."""

    def __init__(self, queue: Any, cancel: Any):
        self.queue, self.cancel = queue, cancel

    def put(self, event: dict) -> None:
        self.queue.put(event)

    def cancelled(self) -> bool:
        return self.cancel.is_set()


class DaskChannel:
    """A Dask cluster's channel: a distributed Queue and Event named after the job."""

    def __init__(self, name: str):
        self.name = name

    def put(self, event: dict) -> None:
        from distributed import Queue

        Queue(self.name).put(event)

    def cancelled(self) -> bool:
        from distributed import Event

        return Event(self.name + "-cancel").is_set()


def run_job(request: dict, channel: Channel) -> str:
    """Train (or sweep) ``request`` = {"config": TrainConfig's fields, "sweep": None or
    {"cells": [...], "lengths": [...]}, "max_seconds": the wall-time bound}, reporting through
    ``channel``. Returns the final status: finished | cancelled | diverged | timeout | failed."""
    try:
        return _run(request, channel)
    except Exception as e:  # reported, not raised: the server shows it as the job's end
        channel.put({"type": "failure", "message": f"{type(e).__name__}: {e}"})
        return "failed"


def _run(request: dict, channel: Channel) -> str:
    from dataclasses import replace

    from ..engine.cells import get_cell
    from ..engine.training import TrainConfig, sweep, train

    config = TrainConfig(**request["config"])
    plan = request.get("sweep")
    deadline = time.monotonic() + float(request["max_seconds"])
    runs = (
        [config]
        if plan is None
        else [replace(config, cell=c, length=n) for c in plan["cells"] for n in plan["lengths"]]
    )
    weights = [c.task_spec().seq_len * get_cell(c.cell).gate_rows for c in runs]
    report = _Reporter(channel, deadline, weights)
    channel.put({"type": "started", "worker": worker_info()})
    if plan is None:
        result = train(config, lambda event: report(0, 1, event))
    else:

        def point(run: int, total: int, p: Any) -> None:
            channel.put({"type": "point", "run": run, "runs": total, "point": p.to_json()})

        result = sweep(config, plan["cells"], plan["lengths"], report, point)
    status = "timeout" if report.timed_out else result.status
    channel.put({"type": "result", "status": status, "result": result.to_json()})
    return status


class _Reporter:
    """The engine's callback: sends the steps since the last report every REPORT_SECONDS,
    at profile steps and at the last step; says stop on cancel or past the deadline."""

    def __init__(self, channel: Channel, deadline: float, weights: list[float]):
        self.channel, self.deadline = channel, deadline
        self.last, self.sent, self.run = 0.0, 0, -1
        self.timed_out = False
        self.start = time.monotonic()
        self.weights = weights

    def _done(self, run: int, fraction: float) -> float:
        """The fraction of the job's work done: the runs before ``run``, and ``fraction`` of
        it, each run weighed by its cost per step."""
        w = self.weights
        return (sum(w[:run]) + w[run] * fraction) / sum(w)

    def __call__(self, run: int, runs: int, event: Any) -> bool:
        if run != self.run:  # a sweep's next run: its records start again at 0
            self.run, self.sent = run, 0
        now = time.monotonic()
        profile = event.record.log10_dh is not None
        last = event.steps_done >= event.steps
        if not (profile or last or now - self.last >= REPORT_SECONDS):
            return True
        self.last = now
        records = event.run.records[self.sent :]
        first = self.sent
        self.sent = len(event.run.records)
        rows = [r.to_json() for r in records]
        spent = now - self.start
        done = self._done(run, event.steps_done / event.steps)
        self.channel.put(
            {
                "type": "progress", "run": run, "runs": runs, "step": event.steps_done,
                "steps": event.steps, "elapsed": round(event.elapsed, 3), "first_step": first,
                "cell": event.run.config.cell, "length": event.run.config.length,
                "job_elapsed": round(spent, 3), "done": round(done, 4),
                "left": round(spent / done - spent, 1) if done > 0 else None,
                "records": {k: [r[k] for r in rows] for k in rows[0]} if rows else {},
                "profiles": [
                    {"step": r.step, "log10_dh": r.profile_json()}
                    for r in records
                    if r.log10_dh is not None
                ],
            }
        )  # fmt: skip
        if now > self.deadline:
            self.timed_out = True
            return False
        return not self.channel.cancelled()
