"""What runs where the analysis of an uploaded model runs: a worker process of the local pool
(server/jobs.py's LocalExecutor, whose initializer pins BLAS to one thread before NumPy is
imported, as for training: nothing heavy is imported at this module's top).

``run_analysis(request, channel)`` reads the model and the inputs from the store's files,
runs engine.model_analysis.analyze_model with a progress hook and a cancel hook, and sends,
in order (the channel of server/train_worker.py):

    {"type": "started", "worker": {pid, blas_threads, pinned_before_numpy}}
    {"type": "progress", "stage": words, "fraction": 0..1, "elapsed": seconds}
    {"type": "result", "status": "finished", "result": {status, payload, figures, mode,
                                                          mode_line}}
    {"type": "result", "status": "cancelled" | "timeout", "result": None}
    {"type": "failure", "message": ...}

Progress is sent at most every REPORT_SECONDS (and at each new stage); the cancel flag and
the deadline are read whenever the analysis asks ``cancelled()``.
"""

from __future__ import annotations

import time
from typing import Any

from .train_worker import Channel, worker_info

REPORT_SECONDS = 0.2


def run_analysis(request: dict, channel: Channel) -> str:
    """Analyse ``request`` = {"config": {model_path, model_format, inputs_path or None,
    nonlinearity, seq_len, loss, seed, sequence, probes, probe_seed, mode}, "max_seconds":
    the wall-time bound}. Returns the final status."""
    try:
        return _run(request, channel)
    except FileNotFoundError:  # the store evicted the file after the job was queued
        message = "the server's store no longer has this file (least recently used files are "
        channel.put({"type": "failure", "message": message + "removed): upload it again"})
        return "failed"
    except Exception as e:  # reported, not raised: the server shows it as the job's end
        channel.put({"type": "failure", "message": f"{type(e).__name__}: {e}"})
        return "failed"


def _run(request: dict, channel: Channel) -> str:
    from ..engine.model_analysis import AnalysisCancelled, analyze_model
    from ..engine.model_io import load_model, read_inputs
    from .figures.model import model_figures
    from .model_report import model_payload

    c = request["config"]
    started = time.monotonic()
    deadline = started + float(request["max_seconds"])
    channel.put({"type": "started", "worker": worker_info()})
    model = load_model(
        c["model_path"], format=c["model_format"], nonlinearity=c["nonlinearity"],
        seq_len=c["seq_len"], loss=c["loss"], seed=c["seed"],
    )  # fmt: skip
    inputs = None
    if c.get("inputs_path"):
        inputs = read_inputs(c["inputs_path"], model.config.input_size)
    report = _Reporter(channel, started)
    timed_out = []

    def cancelled() -> bool:
        if time.monotonic() > deadline:
            timed_out.append(True)
            return True
        return channel.cancelled()

    report("reading the model", 0.0)
    try:
        analysis = analyze_model(
            model, inputs, mode=c["mode"], probes=c["probes"], probe_seed=c["probe_seed"],
            sequence=c["sequence"], progress=report, cancelled=cancelled,
        )  # fmt: skip
    except AnalysisCancelled:
        status = "timeout" if timed_out else "cancelled"
        channel.put({"type": "result", "status": status, "result": None})
        return status
    payload = model_payload(analysis)
    result: dict[str, Any] = {
        "status": "finished",  # what a cached result is replayed with (server/jobs.py)
        "payload": payload,
        "figures": model_figures(analysis),
        "mode": c["mode"],
        "mode_line": mode_line(payload),
    }
    channel.put({"type": "result", "status": "finished", "result": result})
    return "finished"


def mode_line(payload: dict) -> str:
    """The page's line on how the numbers were obtained, from the methods the payload's
    numbers carry (engine.probes.Series: exact, estimate, lower_bound)."""
    jacobians = [j for layers in payload["jacobians"].values() for layer in layers
                 for j in layer.values()]  # fmt: skip
    frobenius = {j["frobenius"]["method"] for j in jacobians}
    spectral = {j["spectral"]["method"] for j in jacobians}
    gradients = {s["method"] for s in payload["layer_time"].values()}
    if frobenius | spectral | gradients == {"exact"}:
        return "Mode: exact. Every number on this page is computed exactly; none is estimated."
    parts = []
    if frobenius == {"estimate"}:
        k = payload["probes"]
        parts.append(
            f"the Jacobians' Frobenius norms are estimates from k = {k} random probes, with "
            "their standard errors"
        )
    if spectral == {"lower_bound"}:
        parts.append("their spectral norms are lower bounds")
    if gradients == {"exact"}:
        parts.append("the gradient norms ||dL/dh_t|| are exact")
    return "Mode: matrix-free (estimated): " + "; ".join(parts) + "."


class _Reporter:
    """analyze_model's progress hook: a progress event at each new stage and at most every
    REPORT_SECONDS within one."""

    def __init__(self, channel: Channel, started: float):
        self.channel, self.started = channel, started
        self.last, self.stage = 0.0, None

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.last < REPORT_SECONDS and fraction < 1:
            return
        self.last, self.stage = now, stage
        self.channel.put(
            {
                "type": "progress",
                "stage": str(stage),
                "fraction": min(1.0, max(0.0, float(fraction))),
                "elapsed": round(now - self.started, 3),
            }
        )
