"""From release to the final figure, after dragging a slider on a large configuration.

Starts this checkout's app on a free loopback port in a process of its own (one BLAS thread
per computation, as `bpttlab serve`), with one route added for this script, /bench/stats:
how many computations the server started and how many it skipped because their client had
gone. Then, in Chromium (Playwright), for each scenario and each run (a fresh seed each run,
so nothing is answered from the cache): opens /explore at the configuration, moves a slider
over 10 positions in 2 s (sets its value and dispatches `input`, and `change` after the last,
as a drag does), and measures, in the page's clock, the time from the last input (release)
to the `bpttlab:drawn` of the final state with no figure still dimmed. Before the drags it
times single computations of each configuration (GET <api>/figures, a fresh seed each time).

Target: the final figure within 1.5 s of release at hidden_size = 256, seq_len = 1000.
Run: .venv/bin/python benchmarks/drag.py [--runs 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
POSITIONS, DRAG_SECONDS, TARGET = 10, 2.0, 1.5
API = "/api/v1/gradient-flow"
# (name, configuration, slider, its 10 positions)
SCENARIOS = [
    (
        "RNN n = 256, T = 1000, scale 1 -> 1.45",
        {"hidden_size": 256, "seq_len": 1000},
        "scale",
        [round(1 + 0.05 * i, 2) for i in range(1, POSITIONS + 1)],
    ),
    (
        "RNN n = 256, T = 1000, seq_len 1000 -> 910",
        {"hidden_size": 256, "seq_len": 1000},
        "seq_len",
        [1000 - 10 * i for i in range(1, POSITIONS + 1)],
    ),
    (
        "LSTM n = 128, T = 500, scale 1 -> 1.45",
        {"cell": "lstm", "hidden_size": 128, "seq_len": 500},
        "scale",
        [round(1 + 0.05 * i, 2) for i in range(1, POSITIONS + 1)],
    ),
]
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# Every draw of the page, in its clock, with the state drawn (an init script: the page's CSP
# does not apply to it).
RECORD_DRAWS = """
window.draws = [];
document.addEventListener("bpttlab:drawn", () => {
  window.draws.push([performance.now(), document.getElementById("controls").dataset.query]);
});
"""

# Move the slider over the positions in DRAG_SECONDS; the page's time of the last input.
DRAG = """
async ({ id, values, interval }) => {
  const slider = document.getElementById(id);
  let release = 0;
  for (let i = 0; i < values.length; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, interval));
    slider.value = String(values[i]);
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    release = performance.now();
  }
  slider.dispatchEvent(new Event("change", { bubbles: true }));
  return release;
}
"""

FINAL_DRAW = """
(query) => {
  const dimmed = document.querySelectorAll("figure.fig.computing").length;
  const hit = window.draws.find(([, drawn]) => drawn === query);
  return hit && !dimmed ? hit[0] : null;
}
"""


def serve(port: int) -> None:
    """The app of this checkout with /bench/stats, on loopback (the server process)."""
    import uvicorn

    from bpttlab.server.app import create_app

    app = create_app()

    def stats() -> dict:
        rt = app.state.runtime
        return {"started": rt.started, "skipped_gone": rt.skipped_gone}

    app.add_api_route("/bench/stats", stats, methods=["GET"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, **{name: "1" for name in BLAS_THREADS}}
    cmd = [sys.executable, __file__, "--serve", str(port)]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/api/v1/health", timeout=1).raise_for_status()
            return server, base
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def canonical(config: dict) -> str:
    """The query string the server answers with for this configuration (no request made)."""
    from bpttlab.server.schemas import GradientFlowQuery

    return GradientFlowQuery(**config).query_string()


def single(base: str, config: dict, seeds: list[int]) -> list[float]:
    """Seconds of one uncached GET <api>/figures of config, for each seed."""
    times = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for seed in seeds:
            start = time.perf_counter()
            client.get(f"{API}/figures", params={**config, "seed": seed}).raise_for_status()
            times.append(time.perf_counter() - start)
    return times


def drag_once(browser, base: str, config: dict, slider: str, values: list, seed: int) -> dict:
    config = {**config, "seed": seed}
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        page.add_init_script(RECORD_DRAWS)
        page.goto(f"{base}/explore?{urlencode(config)}")
        page.wait_for_selector("body[data-ready=true]")
        before = httpx.get(f"{base}/bench/stats").json()
        interval = DRAG_SECONDS * 1000 / (len(values) - 1)
        release = page.evaluate(
            DRAG, {"id": f"{slider}-slider", "values": values, "interval": interval}
        )
        final = canonical({**config, slider: values[-1]})
        deadline = time.monotonic() + 120
        while (drawn := page.evaluate(FINAL_DRAW, final)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the final state {final} was never drawn")
            page.wait_for_timeout(10)
        after = httpx.get(f"{base}/bench/stats").json()
        draws = page.evaluate("() => window.draws.length")
    finally:
        context.close()
    return {
        "latency": (drawn - release) / 1000,
        "computed": after["started"] - before["started"],
        "skipped": after["skipped_gone"] - before["skipped_gone"],
        "draws": draws,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="drags per scenario")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    from playwright.sync_api import sync_playwright

    print(f"machine: {describe()}, load average {os.getloadavg()[0]:.2f}")
    server, base = start_server()
    try:
        print("one computation (GET /figures, uncached), seconds:")
        one = {}
        for _, config, _, _ in SCENARIOS:
            key = urlencode(config)
            if key not in one:
                times = single(base, config, [7001, 7002, 7003])
                one[key] = statistics.median(times)
                print(f"  {key}: " + ", ".join(f"{t:.2f}" for t in times))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, config, slider, values in SCENARIOS:
                runs = [
                    drag_once(browser, base, config, slider, values, 8000 + run)
                    for run in range(args.runs)
                ]
                latencies = [r["latency"] for r in runs]
                median = statistics.median(latencies)
                print(
                    f"{name}: {POSITIONS} positions in {DRAG_SECONDS:.0f} s; release -> final "
                    f"figure: median {median:.2f} s ({median / one[urlencode(config)]:.1f} "
                    f"times one computation), max {max(latencies):.2f} s over {len(runs)} "
                    f"drags (target {TARGET} s); "
                    "computations per drag: "
                    + ", ".join(str(r["computed"]) for r in runs)
                    + "; skipped (client gone): "
                    + ", ".join(str(r["skipped"]) for r in runs)
                    + "; figures drawn: "
                    + ", ".join(str(r["draws"]) for r in runs),
                    flush=True,
                )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
