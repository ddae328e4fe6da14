"""A real headless Chromium for the e2e tests: Debian's /usr/bin/chromium driven by playwright.

Playwright's own browser download cannot run on these machines, so the browser is the distribution's
(`executable_path`). Each session gets a fresh profile and a fresh $HOME: on Linux Chromium reads the
certificates a user trusts from $HOME/.pki/nssdb, so Caddy's internal CA (public mode, `tls internal`)
is trusted there, for this browser only, and TLS is checked for real (no ignore_https_errors).

Every step of a flow runs in `session.step(name)`: a screenshot is saved after it, and a failure is
re-raised naming the step, with the path of the screenshot taken at the moment it failed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, WebSocket, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Root runs it (no sandbox); without the background-networking flags Chromium's own connections
# (component updates, variations, sync) are refused en masse by the closed network and slow it down.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-default-browser-check"]
ARTIFACTS = Path(os.environ.get("LOCALAI_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))
# Schemes that never leave the browser.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-extension", "devtools"}


class StepFailed(AssertionError):
    """A browser step failed: the message names the step and its screenshot."""


def artifacts_dir(name: str) -> Path:
    """A new directory for one test's screenshots (tests/artifacts/ is gitignored)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = ARTIFACTS / "browser" / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def trust_ca(home: Path, ca_pem: str) -> None:
    """Create $HOME/.pki/nssdb trusting `ca_pem` as a TLS root (what Chromium on Linux reads)."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    ca = home / "caddy-root.crt"
    ca.write_text(ca_pem)
    for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "localai-caddy-local", "-i", str(ca)]):
        result = subprocess.run(["certutil", "-d", f"sql:{db}", *args], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"certutil {args[0]} failed: {result.stderr.strip()}")


@dataclass
class Socket:
    url: str
    received: int = 0
    sent: int = 0
    closed: bool = False
    errors: list[str] = field(default_factory=list)


class Session:
    """One browser (fresh profile and $HOME), one page, the requests and websockets it made."""

    def __init__(self, context: BrowserContext, shots: Path) -> None:
        self.context = context
        self.shots = shots
        self.requests: list[str] = []
        self.sockets: list[Socket] = []
        self.console_errors: list[str] = []
        self._count = 0
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("page", self._watch)
        self.page = context.pages[0] if context.pages else context.new_page()
        self._watch(self.page)

    def _watch(self, page: Page) -> None:
        page.on("websocket", self._socket)
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))

    def _socket(self, ws: WebSocket) -> None:
        sock = Socket(ws.url)
        self.sockets.append(sock)
        self.requests.append(ws.url)

        def received(_payload: object) -> None:
            sock.received += 1

        def sent(_payload: object) -> None:
            sock.sent += 1

        ws.on("framereceived", received)
        ws.on("framesent", sent)
        ws.on("socketerror", lambda error: sock.errors.append(str(error)))
        ws.on("close", lambda _ws: setattr(sock, "closed", True))

    def screenshot(self, name: str) -> Path:
        self._count += 1
        path = self.shots / f"{self._count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run one named step; a screenshot after it, and on failure one naming the step."""
        try:
            yield
        except Exception as exc:
            try:
                path = self.screenshot(f"FAILED-{name}")
                path.with_suffix(".html").write_text(self.page.content())  # the DOM, to read selectors from
                shot = str(path)
            except Exception as shot_error:  # the page itself may be gone
                shot = f"(no screenshot: {shot_error})"
            raise StepFailed(f"browser step '{name}' failed: {type(exc).__name__}: {exc}\n"
                             f"screenshot: {shot}") from exc
        self.screenshot(name)

    def foreign_requests(self, allowed_hosts: set[str]) -> list[str]:
        """Every request (and websocket) the pages made to a host outside `allowed_hosts`."""
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in LOCAL_SCHEMES:
                continue
            if (parts.hostname or "") not in allowed_hosts:
                foreign.append(url)
        return sorted(set(foreign))


@contextmanager
def chromium(name: str, host_map: dict[str, str] | None = None, ca_pem: str | None = None) -> Iterator[Session]:
    """A headless Chromium; `host_map` resolves names (host-resolver-rules), `ca_pem` is trusted."""
    shots = artifacts_dir(name)
    print(f"\nbrowser screenshots: {shots}")
    scratch = Path(tempfile.mkdtemp(prefix="localai-chromium-"))
    home = scratch / "home"
    home.mkdir()
    if ca_pem:
        trust_ca(home, ca_pem)
    args = list(FLAGS)
    if host_map:
        args.append("--host-resolver-rules=" + ", ".join(f"MAP {h} {ip}" for h, ip in host_map.items()))
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(scratch / "profile"), executable_path=CHROMIUM, headless=True, args=args,
                env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                viewport={"width": 1366, "height": 900})
            context.set_default_timeout(30_000)
            try:
                yield Session(context, shots)
            finally:
                context.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
