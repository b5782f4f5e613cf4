"""Record the golden answers: ``python tests/golden/record.py [--out DIR]``.

Writes tests/golden/golden.json (status and SHA-256 of every body of cases.requests());
with --out, also every body, one file per request, to diff two versions of the code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy loads: as the server and tests/conftest.py compute

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from fastapi.testclient import TestClient  # noqa: E402

from tests.golden.cases import answers  # noqa: E402

GOLDEN = HERE / "golden.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="also write every body into this folder")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    from bpttlab.server.app import create_app
    from bpttlab.server.settings import Settings

    recorded = {}
    with TestClient(create_app(Settings(gzip=False))) as client:
        for i, (key, status, digest, content) in enumerate(answers(client)):
            recorded[key] = {"status": status, "sha256": digest}
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                name = f"{i:04d}_" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)[:120]
                (args.out / name).write_bytes(content)
    if args.check:
        old = json.loads(GOLDEN.read_text())
        changed = [k for k in recorded if old.get(k) != recorded[k]]
        print(f"{len(recorded)} answers, {len(changed)} changed")
        for k in changed:
            print("  ", k)
        sys.exit(1 if changed else 0)
    GOLDEN.write_text(json.dumps(recorded, indent=0, sort_keys=False) + "\n")
    print(f"{len(recorded)} answers written to {GOLDEN}")


if __name__ == "__main__":
    main()
