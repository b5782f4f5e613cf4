"""BPTT Lab web server: FastAPI app, JSON API and pages."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bpttlab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
