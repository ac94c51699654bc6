#!/usr/bin/env python3
"""The manual as a reader sees it: the built site in headless Chromium.

    python3 tools/docs/browser_check.py build/docs/html build/docs-screenshots

Serves the site on 127.0.0.1, opens the front page, a guide chapter and a
reference page in Debian's Chromium (driven by Playwright, which downloads
no browser of its own), and fails on a console error, an uncaught script
error, a request that fails or answers 4xx/5xx, an image that does not
load, or a link of the page whose target page or anchor does not exist.
Then it searches the site for imconv_mark_read, follows the first hit and
checks it lands on that function's page. A screenshot of each page goes
to the screenshots folder. Chromium comes from Debian's package
`chromium`, installed when missing; when it cannot be, the check says so
and skips.
"""
import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import List
from urllib.parse import urldefrag, urlparse

PAGES = [("front page", "README.html"), ("guide chapter", "docs/calling-contract.html"),
         ("reference page", "docs/reference/imconv_get_conversation.html")]
SEARCH_FOR = "imconv_mark_read"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    print("(installing chromium from Debian's packages)")
    result = subprocess.run("apt-get update -q && apt-get install -y -q chromium", shell=True,
                            capture_output=True, text=True)
    path = shutil.which("chromium")
    if not path:
        print("browser check skipped: Chromium is not installed and apt-get could not install it:\n"
              + result.stderr[-500:])
        sys.exit(0)
    return path


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    site, shots = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    browser_path = chromium()
    from playwright.sync_api import sync_playwright
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    problems: List[str] = []
    checked_links = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            current = {"name": ""}
            page.on("console", lambda m: m.type == "error" and problems.append(
                f"{current['name']}: console error: {m.text} ({m.location.get('url')})"))
            page.on("pageerror", lambda e: problems.append(f"{current['name']}: script error: {e}"))
            page.on("requestfailed", lambda r: problems.append(
                f"{current['name']}: request failed: {r.url} ({r.failure})"))
            page.on("response", lambda r: r.status >= 400 and problems.append(
                f"{current['name']}: {r.status} for {r.url}"))
            for name, path in PAGES:
                current["name"] = name
                page.goto(base + path, wait_until="networkidle")
                if not page.title():
                    problems.append(f"{name}: the page has no title")
                broken = page.evaluate("""() => [...document.images]
                    .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)""")
                problems += [f"{name}: image not loaded: {src}" for src in broken]
                checked_links += check_links(page, base, name, problems)
                page.screenshot(path=str(shots / f"{path.replace('/', '_')}.png"), full_page=False)
            # index.html only sends the browser to the front page (read, not
            # loaded: a navigation that moves on aborts its own requests).
            landing = page.request.get(base + "index.html").text()
            if 'url=README.html' not in landing:
                problems.append("index.html does not lead to README.html")
            current["name"] = "search"
            page.goto(base + f"search.html?q={SEARCH_FOR}", wait_until="networkidle")
            hit = page.locator("#search-results a").first
            hit.wait_for(timeout=60000)  # a bound for a stuck page, not a verdict on speed
            hits = page.locator("#search-results li").count()
            page.screenshot(path=str(shots / "search.png"))
            hit.click()
            page.wait_for_load_state("networkidle")
            landed = page.url
            heading = page.locator("[role=main] h1").first.inner_text()
            if SEARCH_FOR not in heading:
                problems.append(f"search: the first hit for {SEARCH_FOR} led to {landed} "
                                f"(heading {heading!r}), not its reference page")
            page.screenshot(path=str(shots / "search_first_hit.png"))
            browser.close()
    finally:
        server.shutdown()
    for problem in problems:
        print(f"browser check: {problem}")
    if problems:
        return 1
    print(f"browser check: {len(PAGES)} pages in Chromium without a console error, a failed "
          f"request or a missing image; {checked_links} links and anchors resolved; search for "
          f"{SEARCH_FOR}: {hits} hits, the first opens its page; screenshots in {shots}")
    return 0


def check_links(page, base: str, name: str, problems: List[str]) -> int:  # type: ignore[no-untyped-def]
    """Every same-site link of the page: its target loads and holds its anchor."""
    hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    ids_of = {}
    count = 0
    for href in sorted(set(hrefs)):
        if not href.startswith(base):
            continue
        url, anchor = urldefrag(href)
        if url not in ids_of:
            response = page.request.get(url)
            if not response.ok:
                problems.append(f"{name}: broken link {href} ({response.status})")
                ids_of[url] = None
                continue
            body = response.text() if "html" in response.headers.get("content-type", "") else ""
            ids_of[url] = body
        body = ids_of[url]
        count += 1
        if body is not None and anchor and f'id="{anchor}"' not in body:
            problems.append(f"{name}: link {href}: no anchor #{anchor} in {urlparse(url).path}")
    return count


if __name__ == "__main__":
    sys.exit(main())
