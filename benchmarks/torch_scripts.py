"""Run the "Reproduce in PyTorch" scripts under a Python that has torch, and report.

torch is not a dependency (nor a test dependency) of BPTT Lab; the test suite checks that the
scripts compile and embed the exact tensors and numbers. This runs them for real: every
script of CONFIGS is fetched from the app in process, run with the given interpreter, and its
last line (the largest differences from BPTT Lab's numbers) and exit status printed; the
script itself exits 1 past its tolerance. A Python with torch, e.g.:

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch==2.13.0 numpy
    .venv/bin/python benchmarks/torch_scripts.py /tmp/torch/bin/python
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpttlab.server.app import create_app  # noqa: E402

CONFIGS = [
    ("network", "cell=lstm&num_layers=2&bidirectional=true&seq_len=6&hidden_size=5"),
    ("network", "cell=gru&num_layers=3&skip=residual&seq_len=7&hidden_size=4"),
    (
        "network",
        "cell=rnn&nonlinearity=relu&num_layers=2&bidirectional=true&seq_len=5"
        "&hidden_size=3&loss=last",
    ),  # fmt: skip
    (
        "network",
        "cell=lstm&num_layers=4&bidirectional=true&skip=residual&seq_len=8"
        "&hidden_size=6&forget_bias=1",
    ),  # fmt: skip
    ("network", "cell=rnn&seq_len=20&hidden_size=8&scale=0.5"),
    ("gradient-flow", "cell=lstm&hidden_size=8&seq_len=30"),
    ("gradient-flow", "cell=gru&seq_len=50&hidden_size=6"),
    ("gradient-flow", "cell=rnn&seq_len=40"),
]


def main() -> int:
    python = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    failed = 0
    with TestClient(create_app()) as client, tempfile.TemporaryDirectory() as tmp:
        for api, query in CONFIGS:
            script = Path(tmp) / "reproduce.py"
            script.write_text(client.get(f"/api/v1/{api}/pytorch?{query}").text)
            run = subprocess.run([python, str(script)], capture_output=True, text=True)
            last = (run.stdout.strip().splitlines() or [run.stderr.strip()[-300:]])[-1]
            print(f"{api} {query}\n    exit {run.returncode}: {last}")
            failed += run.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
