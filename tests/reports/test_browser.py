"""The rendered report set in a real browser: headless Chromium driven over the DevTools protocol.

Every page linked from ``reports/index.html`` loads, every image has loaded (naturalWidth > 0), no
request leaves the machine (Chromium resolves every host name to nothing, and the only URLs
requested are file: and data:), and each page shows its headline.  Screenshots are saved in the
test's temporary folder.  Without Chromium the test skips, unless MBTEVIDENCE_REQUIRE_BROWSER=1
(CI), where it fails.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from mbtevidence.reports import load_grid
from mbtevidence.reports.html import headline_of
from mbtevidence.reports.pdf import OFFLINE_FLAGS, chromium

BROWSER = chromium()
if BROWSER is None and os.environ.get("MBTEVIDENCE_REQUIRE_BROWSER") == "1":
    pytest.fail("MBTEVIDENCE_REQUIRE_BROWSER=1 but no chromium is installed", pytrace=False)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="headless Chromium not installed (apt-get install chromium); CI requires it"
)


class DevTools:
    """A minimal DevTools-protocol client for one page (websocket-client)."""

    def __init__(self, profile: Path) -> None:
        import websocket

        self.process = subprocess.Popen(
            [BROWSER, *OFFLINE_FLAGS, "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={profile}", "--window-size=1280,1600", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: object) -> dict:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def open(self, url: str) -> list[dict]:
        """Navigate and wait for the load event; the network events of this page."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not finish loading")
            self.events.append(json.loads(self.socket.recv()))
        return [e for e in self.events if e.get("method", "").startswith("Network.")]

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self, path: Path) -> None:
        height = self.evaluate("document.documentElement.scrollHeight")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(int(height), 16000),
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    devtools = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    yield devtools
    devtools.close()


def check_page(browser: DevTools, url: str, shot: Path) -> str:
    """Load ``url``; assert nothing went to the network and every image loaded; return the page text."""
    network = browser.open(url)
    requested = [e["params"]["request"]["url"] for e in network if e["method"] == "Network.requestWillBeSent"]
    assert requested and all(u.startswith(("file:", "data:")) for u in requested), [u[:80] for u in requested]
    failed = [e["params"].get("errorText") for e in network if e["method"] == "Network.loadingFailed"]
    assert not failed, failed
    images = browser.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert all(done and width > 0 for done, width in images), images
    browser.screenshot(shot)
    return str(browser.evaluate("document.body.innerText"))


def test_every_page_of_the_report_set_loads_offline_with_its_images_and_headline(rendered, browser, tmp_path):
    index = rendered.folder / "index.html"
    text = check_page(browser, index.as_uri(), tmp_path / "index.png")
    assert "MBT evidence reports" in text
    links = browser.evaluate("Array.from(document.querySelectorAll('a')).map(a => a.href)")
    pages = sorted({link for link in links if link.endswith(".html")})
    specs = load_grid()
    assert pages == sorted((rendered.folder / f"{s.name}.html").as_uri() for s in specs)
    for link in links:
        assert link.startswith("file:") and Path(urllib.request.url2pathname(link[len("file://") :])).exists(), link
    for spec in specs:
        page_text = check_page(browser, (rendered.folder / f"{spec.name}.html").as_uri(), tmp_path / f"{spec.name}.png")
        headline = headline_of(nbformat.read(rendered.folder / f"{spec.name}.ipynb", as_version=4))
        assert headline["text"] in " ".join(page_text.split()), spec.name
        assert browser.evaluate("document.title") == spec.title
        assert (tmp_path / f"{spec.name}.png").stat().st_size > 10_000
