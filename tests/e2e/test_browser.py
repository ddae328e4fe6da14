"""A real browser through Caddy: headless Chromium signs in to Open WebUI and n8n, chats with a
model and with the n8n agent, and opens the starter workflow, in private mode and in public mode
(`tls internal`, Caddy's own CA trusted by this browser only). Screenshots: tests/artifacts/browser/."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import read_env_file
from tests.e2e.browser import Session, StepFailed, chromium
from tests.e2e.conftest import PUBLIC_HOSTS, SHARED_PORTS, Stack

pytestmark = pytest.mark.shared_stack("public")  # the shared stacks (conftest.py): run last


def test_a_failed_step_is_named_and_keeps_its_screenshot():
    with chromium("helper-check") as session:
        session.page.set_content("<h1>Local AI Stack</h1>")
        with session.step("read the heading"):
            assert session.page.get_by_role("heading").inner_text() == "Local AI Stack"
        with pytest.raises(StepFailed) as failed, session.step("find a missing button"):
            session.page.get_by_role("button", name="Nope").click(timeout=500)
        shots = sorted(p.name for p in session.shots.iterdir())
    assert "browser step 'find a missing button' failed" in str(failed.value)
    assert shots == ["01-read-the-heading.png", "02-FAILED-find-a-missing-button.html",
                     "02-FAILED-find-a-missing-button.png"]
    assert str(session.shots / shots[2]) in str(failed.value)


# --- the stack, once private (Caddy on 127.0.0.1) and once public (Caddy on 80/443, tls internal) ------
# The private site is the shared private stack, the public one the shared public stack (conftest.py).
CADDY_ROOT_CA = "/data/caddy/pki/authorities/local/root.crt"  # XDG_DATA_HOME=/data in the caddy image
CHAT_MODEL = "tinyllama:latest"


@dataclass
class Site:
    mode: str
    stack: Stack
    webui: str        # Open WebUI's address through Caddy
    n8n: str          # n8n's address through Caddy
    hosts: set[str]   # the only hosts the browser may talk to
    host_map: dict[str, str]
    ca_pem: str | None


def _caddy_ca(stack: Stack) -> str:
    """Caddy's internal root (made with the first certificate), to be trusted by the browser."""
    deadline = time.monotonic() + 30
    while True:
        try:
            pem = stack.exec("caddy", "cat", CADDY_ROOT_CA)
            if "BEGIN CERTIFICATE" in pem:
                return pem
        except AssertionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"caddy has no {CADDY_ROOT_CA} after up")
        time.sleep(1)


@pytest.fixture(scope="module", params=["private", "public"])
def site(request) -> Site:
    if request.param == "private":
        # Caddy's private sites: http://<name>.localhost:<CADDY_PORT> (Chromium resolves *.localhost
        # to loopback itself)
        port = SHARED_PORTS["CADDY_PORT"]
        return Site("private", request.getfixturevalue("shared_stack"), f"http://webui.localhost:{port}",
                    f"http://n8n.localhost:{port}", {"webui.localhost", "n8n.localhost"}, {}, None)
    stack = request.getfixturevalue("public_stack")
    names = [PUBLIC_HOSTS["WEBUI_HOSTNAME"], PUBLIC_HOSTS["N8N_HOSTNAME"]]
    return Site("public", stack, f"https://{names[0]}", f"https://{names[1]}", set(names),
                dict.fromkeys(names, "127.0.0.1"), _caddy_ca(stack))


def _env(site: Site) -> dict[str, str]:
    return read_env_file(site.stack.root / ".env")


def _no_foreign_requests(session: Session, site: Site) -> None:
    foreign = session.foreign_requests(site.hosts)
    assert not foreign, f"the page called hosts outside the stack: {foreign[:20]}"


# --- Open WebUI -----------------------------------------------------------------------------------
def _webui_sign_in(session: Session, site: Site) -> None:
    page, env = session.page, _env(site)
    with session.step("open webui: sign-in page"):
        page.goto(f"{site.webui}/auth")
        page.get_by_placeholder("Enter Your Email").wait_for()
    with session.step("open webui: sign in as the generated admin"):
        page.get_by_placeholder("Enter Your Email").fill(env["WEBUI_ADMIN_EMAIL"])
        page.get_by_placeholder("Enter Your Password").fill(env["WEBUI_ADMIN_PASSWORD"])
        page.get_by_role("button", name="Sign in").click()
        page.locator("#chat-input").wait_for()
        _dismiss_webui_dialogs(session)


def _dismiss_webui_dialogs(session: Session) -> None:
    """The first sign-in may show the release notes ("What's New"); close them."""
    button = session.page.get_by_role("button", name="Okay, Let's Go!")
    if button.count():
        button.first.click()


def _webui_pick_model(session: Session, name: str) -> None:
    """The model selector of open-webui 0.12.4's built frontend: its trigger (#model-selector-0-button,
    or #model-selector-model-button that its keyboard shortcut clicks), the search box
    #model-search-input (placeholder "Search a model") and items #model-option-<n> (aria-label)."""
    page = session.page
    page.locator("#model-selector-0-button, #model-selector-model-button").first.click()
    page.locator("#model-search-input").fill(name)
    page.locator('[id^="model-option-"]', has_text=name).first.click()


def _webui_chat(session: Session, message: str, expected: str) -> None:
    page = session.page
    box = page.locator("#chat-input")
    box.click()
    box.fill(message)
    page.keyboard.press("Enter")
    page.get_by_text(expected).wait_for(timeout=120_000)


def _tls_is_checked(site: Site) -> None:
    """Without Caddy's root the same browser refuses the site: the trust above is what makes it pass."""
    with (chromium(f"{site.mode}-untrusted", site.host_map) as session, session.step("tls: untrusted is refused"),
          pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID")):
        session.page.goto(site.webui)


def test_open_webui_chat_through_caddy(site: Site):
    if site.ca_pem:
        _tls_is_checked(site)
    with chromium(f"{site.mode}-open-webui", site.host_map, site.ca_pem) as session:
        _webui_sign_in(session, site)
        with session.step(f"open webui: pick {CHAT_MODEL}"):
            _webui_pick_model(session, CHAT_MODEL)
        with session.step("open webui: chat with the model, answer rendered"):
            _webui_chat(session, "hello browser", "Hello from the Ollama double (turn 1): hello browser")
        with session.step("open webui: the socket.io websocket is open and receiving"):
            sockets = [s for s in session.sockets if "/ws/socket.io" in s.url]
            assert sockets, f"no socket.io websocket opened (sockets: {[s.url for s in session.sockets]})"
            assert any(s.received > 0 and not s.errors for s in sockets), sockets
        with session.step("open webui: new chat with the n8n agent"):
            session.page.goto(site.webui + "/")
            session.page.locator("#chat-input").wait_for()
            _webui_pick_model(session, "n8n agent")
        with session.step("open webui: the n8n agent answers"):
            _webui_chat(session, "hello agent", "Hello from the Ollama double (turn 1): hello agent")
        _no_foreign_requests(session, site)


# --- n8n ------------------------------------------------------------------------------------------
STARTER_ID = "localaiStarterAgent"


def _starter_workflow(site: Site) -> dict:
    """The workflow JSON start.py imported (the rendered one, from the stack's build/)."""
    return json.loads((site.stack.root / "build" / "n8n" / "starter-agent.json").read_text())


def _n8n_sign_in(session: Session, site: Site) -> None:
    page, env = session.page, _env(site)
    with session.step("n8n: sign-in page"):
        page.goto(f"{site.n8n}/signin")
        page.get_by_label("Email").wait_for()
    with session.step("n8n: sign in as the owner"):
        page.get_by_label("Email").fill(env["N8N_OWNER_EMAIL"])
        page.get_by_label("Password").fill(env["N8N_OWNER_PASSWORD"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/signin" not in url)


def _canvas_nodes(session: Session, expected: int) -> list[dict[str, str]]:
    """name, type and rendered text of each node on the canvas, once `expected` nodes are drawn."""
    nodes = session.page.locator('[data-test-id="canvas-node"]')
    session.page.wait_for_function(
        "n => document.querySelectorAll('[data-test-id=\"canvas-node\"]').length >= n", arg=expected)
    return [{"name": n.get_attribute("data-node-name") or "", "type": n.get_attribute("data-node-type") or "",
             "text": n.inner_text()} for n in nodes.all()]


def test_n8n_starter_workflow_renders_every_node(site: Site):
    workflow = _starter_workflow(site)
    expected = {n["name"]: n["type"] for n in workflow["nodes"]}
    with chromium(f"{site.mode}-n8n", site.host_map, site.ca_pem) as session:
        _n8n_sign_in(session, site)
        with session.step("n8n: open the starter workflow"):
            session.page.goto(f"{site.n8n}/workflow/{STARTER_ID}")
            drawn = _canvas_nodes(session, len(expected))
        with session.step("n8n: every node of the imported JSON is on the canvas, as its own type"):
            assert {n["name"]: n["type"] for n in drawn} == expected
        with session.step("n8n: no node is an unknown (not installed) node type, none has issues"):
            # n8n 2.41.3's editor gives a node of an unknown type the issue {typeUnknown} ('Node Type "X"
            # is not known.') and draws every node with issues with a [data-test-id=node-issues] icon.
            flagged = session.page.locator('[data-test-id="canvas-node"]:has([data-test-id="node-issues"])')
            names = [n.get_attribute("data-node-name") for n in flagged.all()]
            assert not names, f"nodes drawn with issues (unknown type or broken config): {names}"
        _no_foreign_requests(session, site)
