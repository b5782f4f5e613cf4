"""A live server in a thread and Debian's Chromium driven by Playwright."""

import shutil
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from bpttlab.server.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server():
    port = free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# Every Content-Security-Policy violation of the page, kept where a test can read it.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""


LOOPBACK = ("127.0.0.1", "localhost")


def wait_until(page, condition, timeout: float = 10.0, what=None) -> None:
    """Wait for condition() with a deadline, letting the page run (and its console and
    network events reach the test) between tries; fail naming ``what`` on time-out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting; {what!r}"
        page.wait_for_timeout(20)


class Page:
    """A page plus the console errors and failed requests it produced. Requests to any host
    but this machine's are refused before they leave and listed in ``foreign``."""

    def __init__(self, page, base):
        self.page, self.base, self.errors, self.foreign = page, base, [], []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        page.add_init_script(RECORD_CSP_VIOLATIONS)
        page.route("**/*", self._only_ours)

    def _only_ours(self, route):
        url = route.request.url
        # loopback only: the test server, a test's own host page on another port, file://
        if url.startswith(("data:", "blob:", "file:")) or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort("blockedbyclient")

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.cspViolations")

    def open(self, path):
        self.page.goto(self.base + path)
        self.page.wait_for_selector("body[data-ready=true]")
        return self.page


@pytest.fixture
def make_page(browser, live_server):
    contexts = []

    def make(width=1280, height=900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return Page(context.new_page(), live_server)

    yield make
    for c in contexts:
        c.close()
