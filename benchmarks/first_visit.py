"""Bytes a first visit to /explore transfers, as Chromium reports them.

Starts `bpttlab serve` on loopback, opens /explore in headless Chromium with an empty cache
(Accept-Encoding as Chromium sends it: gzip, deflate, br, zstd) and adds up, for every request
the page makes (HTML, CSS, JS modules, Plotly, favicon, any fetch), the response headers and
the encoded body Chromium received; the decoded size is printed next to it.
`--root DIR` serves another checkout (e.g. an older commit, to compare). Run: make bench
"""

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, serving  # noqa: E402

PATH = "/explore"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def first_visit(base: str) -> list[tuple[str, int, int, int]]:
    """(path, header bytes, encoded body bytes, decoded body bytes) per response."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context().new_page()
        responses = []
        page.on("response", lambda r: responses.append(r))
        page.goto(base + PATH)
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_load_state("networkidle")
        rows = []
        for r in responses:
            sizes = r.request.sizes()
            path = urlsplit(r.url).path
            rows.append(
                (path, sizes["responseHeadersSize"], sizes["responseBodySize"], len(r.body()))
            )
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="the checkout to serve (default: this one)")
    args = parser.parse_args()
    with serving(args.root) as base:
        rows = first_visit(base)
    print(f"machine: {describe()}")
    for path, headers, body, decoded in rows:
        print(f"  {path:48} {headers + body:>9,} bytes ({decoded:,} decoded)")
    total = sum(headers + body for _, headers, body, _ in rows)
    decoded = sum(row[3] for row in rows)
    print(
        f"first visit to {PATH}: {len(rows)} requests, {total:,} bytes transferred "
        f"({decoded:,} bytes decoded)"
    )


if __name__ == "__main__":
    main()
