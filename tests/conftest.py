"""Every test computes as the server does: BLAS on one thread (``bpttlab serve`` and the
training workers pin it, server/cli.py and server/train_worker.py), set here before anything
imports NumPy. Besides the speed (OpenBLAS's own threads made the engine 10 to 30 times
slower at hidden size >= 64 on the 2-core machines), the threads change the last bits of
some sums, and tests/golden hashes the bytes the server answers; tests/golden/record.py pins
BLAS the same way."""

import os
import sys

from bpttlab.server.train_worker import BLAS_THREADS

if "numpy" in sys.modules:  # pragma: no cover - a plugin that imports NumPy first
    raise RuntimeError("NumPy was imported before tests/conftest.py could pin BLAS to one thread")
for _name in BLAS_THREADS:
    os.environ[_name] = "1"
