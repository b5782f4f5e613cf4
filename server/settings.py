"""Settings from BPTTLAB_* environment variables, read once by a cached ``get_settings()``.

``get_settings()`` is only the default: ``create_app(settings)`` (and the CLI and the static
export) take the settings to use, and an app keeps its own in ``app.state.settings`` (with the
runtime made from them), the one place they are read at run time. Tests give an app settings
of its own with ``create_app(Settings(...))``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# a CSP host or scheme source: `*`, `https:`, `https://*.example.edu:8443/path`
SOURCE = re.compile(
    r"\*"
    r"|[a-zA-Z][a-zA-Z0-9+.-]*:"  # a scheme
    r"|([a-zA-Z][a-zA-Z0-9+.-]*://)?[a-zA-Z0-9*.-]+(:(\d+|\*))?(/[^\s;,']*)?"  # a host
)
# A checkout (repository root) or the installed package (site-packages/bpttlab): either way
# templates/ and static/ sit beside server/.
ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """``BPTTLAB_HOST``, ``BPTTLAB_PORT``, ... override the defaults."""

    model_config = SettingsConfigDict(env_prefix="BPTTLAB_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # uvicorn's access log, a line per request (also `bpttlab serve --access-log`)
    access_log: bool = False
    templates_dir: Path = ROOT / "templates"
    static_dir: Path = ROOT / "static"
    # seconds a compute response may be cached by browsers and proxies (it is a pure
    # function of its query)
    cache_max_age: int = 3600
    # the largest estimated cost of one request, in units of about one multiply-add of a
    # matrix product (server/limits.py); the default admits every query the bounds allow
    cost_budget: float = Field(4e11, gt=0)
    # computations at once per process (one per core), and how many more may wait for one;
    # a request beyond that gets a 503 with Retry-After
    max_concurrent: int = Field(2, ge=1)
    max_queue: int = Field(64, ge=0)
    # the in-process cache of results and response bodies, in bytes
    cache_bytes: int = Field(64 * 2**20, ge=0)
    # compress responses of 1 kB and more (off only in tests that inspect template context,
    # which Starlette's gzip middleware does not pass through)
    gzip: bool = True
    # the address users reach this server at, e.g. https://lab.example.edu (no trailing path):
    # oEmbed accepts view URLs of this host and builds iframe addresses with it. Empty: the
    # scheme and host of each request (right unless a proxy rewrites the Host header)
    public_url: str = ""
    # who may frame the embeddable pages (/embed/...): the CSP frame-ancestors source list,
    # space-separated: `*` (any site), or e.g. `'self' https://moodle.example.edu`. Every
    # other page may be framed by this origin only.
    frame_ancestors: str = "*"
    # training jobs (server/jobs.py): how many run at once (worker processes), how many more
    # may wait (beyond: 503 with Retry-After), the bounds of one job (steps, wall seconds),
    # how long a job runs with nobody asking for it (a browser that left), finished results
    # kept by configuration, and a Dask distributed scheduler to run them on instead of the
    # local process pool (e.g. tcp://host:8786; empty: local)
    train_workers: int = Field(1, ge=1)
    train_queue: int = Field(8, ge=0)
    train_max_steps: int = Field(5000, ge=1)
    train_max_seconds: float = Field(120.0, gt=0)
    train_grace: float = Field(15.0, gt=0)
    train_cache: int = Field(64, ge=0)
    dask_scheduler: str = ""
    # == MODELWEB: your own model (server/model_store.py, server/model_api.py, /model) ==
    # the largest model (or inputs) file accepted, in bytes (beyond: 413 naming it); the
    # content-addressed store of uploaded files on disk, bounded in bytes (least recently used
    # entries evicted) and where it lives (empty: <temp dir>/bpttlab-models-<user>); analysis
    # jobs at once (worker processes), how many more may wait, the wall-time bound of one,
    # how long one runs with nobody asking for it, finished analyses kept by request
    model_max_bytes: int = Field(256 * 2**20, ge=1)
    model_store_bytes: int = Field(2 * 2**30, ge=1)
    model_store_dir: str = ""
    model_workers: int = Field(1, ge=1)
    model_queue: int = Field(4, ge=0)
    model_max_seconds: float = Field(600.0, gt=0)
    model_grace: float = Field(30.0, gt=0)
    model_cache: int = Field(32, ge=0)

    @field_validator("frame_ancestors")
    @classmethod
    def _source_list(cls, value: str) -> str:
        """Sources separated by spaces; nothing that would end the directive or the header."""
        sources = value.split()
        for source in sources:
            quoted = source.startswith("'")
            if quoted and source not in ("'self'", "'none'"):
                raise ValueError(f"only 'self' and 'none' may be quoted, not {source}")
            if not quoted and not SOURCE.fullmatch(source):
                raise ValueError(f"not a CSP source expression: {source!r}")
        if not sources or ("'none'" in sources and len(sources) > 1):
            raise ValueError("give one or more sources, or 'none' alone")
        return " ".join(sources)


@lru_cache
def get_settings() -> Settings:
    return Settings()
