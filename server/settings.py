"""Settings from BPTTLAB_* environment variables, behind a cached ``get_settings()``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent  # the repository: templates/ and static/ live here


class Settings(BaseSettings):
    """``BPTTLAB_HOST``, ``BPTTLAB_PORT``, ... override the defaults."""

    model_config = SettingsConfigDict(env_prefix="BPTTLAB_", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    templates_dir: Path = ROOT / "templates"
    static_dir: Path = ROOT / "static"
    # seconds a compute response may be cached by browsers and proxies (it is a pure
    # function of its query)
    cache_max_age: int = 3600
    # compress responses of 1 kB and more (off only in tests that inspect template context,
    # which Starlette's gzip middleware does not pass through)
    gzip: bool = True
    # the address users reach this server at, e.g. https://lab.example.edu (no trailing path):
    # oEmbed accepts view URLs of this host and builds iframe addresses with it. Empty: the
    # scheme and host of each request (right unless a proxy rewrites the Host header)
    public_url: str = ""


@lru_cache
def get_settings() -> Settings:
    return Settings()
