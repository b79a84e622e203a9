"""A screenshot of the latent explorer (python explore.py) in headless Chromium: docs/explorer.png.

    python scripts/explorer_screenshot.py outputs/<run>/checkpoints/last.ckpt --set a=13 --set b=10 --set t=0.5

Starts explore.py on a free port of 127.0.0.1, opens the page in Debian's Chromium (Playwright pointed at
that executable: no browser download; $CHROMIUM names another), moves the sliders to the values given,
saves a screenshot (default docs/explorer.png) and stops the server. The browser reaches 127.0.0.1 only.
The slow browser test (tests/cli/test_explore.py) drives the page with the same helpers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def chromium_path() -> str | None:
    """$CHROMIUM, else Debian's ``chromium`` (``apt-get install chromium``) on PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python explore.py`` as a child process, its output in ``log``."""

    def __init__(self, proc: subprocess.Popen, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        """Until the page answers; RuntimeError if the server exits first or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"explore.py exited with {self.proc.returncode}:\n{self.output[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"explore.py did not answer on {self.url} in {timeout:.0f}s:\n{self.output[-3000:]}")

    def stop(self, timeout: float) -> int:
        """SIGTERM, then up to ``timeout`` seconds to close; killed (and -9 returned) if it does not."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return -9
        return self.proc.returncode


@contextmanager
def running_explorer(ckpt: str | Path, *overrides: str, log: Path, env: dict | None = None, start_timeout=240):
    """A ``Server`` of ``explore.py ckpt_path=ckpt`` on a free port; stopped (SIGTERM) when the block ends."""
    port = free_port()
    command = [sys.executable, str(ROOT / "explore.py"), f"ckpt_path={ckpt}", f"port={port}", *overrides]
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}/", log)
    try:
        server.wait_ready(start_timeout)
        yield server
    finally:
        server.stop(30)


@contextmanager
def chromium_page(width: int = 1280, height: int = 900, timeout_ms: int = 60_000):
    """A headless Chromium page that may reach 127.0.0.1 only: other requests are refused and listed in
    ``page.blocked``."""
    from playwright.sync_api import sync_playwright  # a test tool, not a dependency of the package

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium: apt-get install chromium (or set CHROMIUM=/path/to/chrome)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, timeout=timeout_ms)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_ms)
            page.blocked = []

            def loopback_only(route):
                if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")):
                    route.continue_()
                else:
                    page.blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", loopback_only)
            yield page
        finally:
            browser.close()


def set_slider(page, elem_id: str, value: float | str) -> None:
    """Type ``value`` into a Gradio slider's number box and confirm it, as a person would."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def image_src(page, elem_id: str) -> str | None:
    """Where the image of component ``elem_id`` comes from (a new one gets a new URL)."""
    return page.locator(f"#{elem_id} img").get_attribute("src")


def wait_new_image(page, elem_id: str, before: str | None, timeout_ms: float | None = None) -> str:
    """Until component ``elem_id`` shows an image other than ``before``; its src. (Gradio names an image
    by its content: the same picture again keeps its src.)"""
    page.wait_for_function(
        "([id, before]) => { const img = document.querySelector(`#${id} img`);"
        " return img !== null && img.getAttribute('src') !== before; }",
        arg=[elem_id, before],
        timeout=timeout_ms,
    )
    return image_src(page, elem_id)


def wait_loaded(page) -> None:
    """Until the grid and the sample are drawn."""
    page.locator("#grid img").wait_for()
    page.locator("#sample img").wait_for()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ckpt", help="a checkpoint of a train.py run")
    parser.add_argument("--out", default=str(ROOT / "docs" / "explorer.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="SLIDER=VALUE",
                        help="move a slider first (a, b, t, dim, amount, truncation); repeatable")  # fmt: skip
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("overrides", nargs="*", help="more explore.py overrides, e.g. grid.rows=3")
    args = parser.parse_args()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    log = Path(args.out).with_suffix(".log")
    with running_explorer(args.ckpt, f"seed={args.seed}", *args.overrides, log=log) as server:
        with chromium_page(args.width, args.height) as page:
            page.goto(server.url)
            wait_loaded(page)
            for elem_id, value in (item.split("=", 1) for item in args.set):
                if float(page.locator(f"#{elem_id} input[type=number]").input_value()) != float(value):
                    before = image_src(page, "sample")
                    set_slider(page, elem_id, value)
                    try:  # a change that draws the same sample (a nudge of 0 along another dimension) shows nothing new
                        wait_new_image(page, "sample", before, timeout_ms=10_000)
                    except PlaywrightTimeout:
                        pass
            page.evaluate("document.activeElement.blur()")  # no focus ring in the picture
            page.wait_for_timeout(500)  # the new image paints
            page.screenshot(path=args.out, full_page=True)
            if page.blocked:
                print(f"the page asked for other hosts (refused): {page.blocked}", file=sys.stderr)
    log.unlink(missing_ok=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
