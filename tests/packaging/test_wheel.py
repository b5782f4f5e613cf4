"""The built wheel, installed into a fresh virtual environment, serves every page, embed and
asset from a server started in an unrelated directory, and installs no generic top-level name.

This is how the Dockerfile installs BPTT Lab (``python -m build --wheel``, then
``pip install`` of the wheel), so a non-editable install is tested as it ships.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ("explore", "compare", "cliff", "eigen")


def _run(*cmd, **kw) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel built from this checkout installed."""
    dist, env_dir = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("venv")
    # sdist first, then the wheel from the sdist in a clean directory: no stale build/ of the
    # checkout can leak in, and a file the sdist misses is missed by the wheel too
    _run(sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT), env=_env())
    (wheel,) = dist.glob("bpttlab-*.whl")
    _run(sys.executable, "-m", "venv", str(env_dir))
    _run(str(env_dir / "bin" / "pip"), "install", "-q", str(wheel), env=_env())
    return env_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def served(venv, tmp_path_factory):
    """``bpttlab serve`` from the venv, started in an empty directory."""
    where = tmp_path_factory.mktemp("elsewhere")
    port = _free_port()
    log = where / "server.log"
    with log.open("wb") as err:
        server = subprocess.Popen(
            [str(venv / "bin" / "bpttlab"), "serve", "--port", str(port)],
            cwd=where,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if _get(base + "/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the installed server did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_wheel_installs_only_the_bpttlab_package(venv):
    (site,) = venv.glob("lib/python*/site-packages")
    assert (site / "bpttlab" / "engine").is_dir()
    assert (site / "bpttlab" / "server").is_dir()
    for generic in ("engine", "server", "templates", "static"):
        assert not (site / generic).exists(), f"{generic} installed as a top-level name"
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import bpttlab, bpttlab.engine; print(bpttlab.__file__)",
        ],
        cwd=venv,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().startswith(str(site))


class _Assets(HTMLParser):
    """The same-origin addresses a page loads (scripts, styles, icons) and links to."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: set[str] = set()
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.assets.add(a["src"])
        elif tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "icon"):
            self.assets.add(a["href"])
        elif tag == "a" and a.get("href", "").startswith("/"):
            self.links.add(a["href"])


def _parse(body: bytes) -> _Assets:
    parser = _Assets()
    parser.feed(body.decode())
    return parser


def test_every_page_and_embed_is_served_from_the_installed_package(served):
    pages = ["/", "/docs", *(f"/{v}" for v in VIEWS), *(f"/embed/{v}" for v in VIEWS)]
    assets: set[str] = set()
    for path in pages:
        status, body = _get(served + path)
        assert status == 200, path
        found = _parse(body)
        assets |= {urljoin(served + path, a) for a in found.assets}
        if path == "/":
            assert {f"/{v}" for v in VIEWS} <= {re.sub(r"\?.*", "", x) for x in found.links}
    assert any("plotly" in a for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in sorted(assets):
        assert asset.startswith(served + "/"), f"{asset} is not served by us"
        assert _get(asset)[0] == 200, asset
    status, body = _get(served + "/api/v1/gradient-flow/figures?seq_len=20")
    assert status == 200 and b'"figures"' in body


def test_every_file_of_static_is_served_byte_for_byte(served):
    files = [p for p in (ROOT / "static").rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        rel = path.relative_to(ROOT / "static").as_posix()
        url = "/" + rel if rel.startswith("vendor/") else "/static/" + rel
        status, body = _get(served + url)
        assert status == 200, url
        assert body == path.read_bytes(), url
