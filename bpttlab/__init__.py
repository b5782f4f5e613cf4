"""BPTT Lab: see why gradients vanish and explode in recurrent networks.

``bpttlab.engine`` is the NumPy engine (config dataclass in, result dataclass out);
``bpttlab.server`` the FastAPI app, its figures and the command line ``bpttlab``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bpttlab")
except PackageNotFoundError:  # pragma: no cover - a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
