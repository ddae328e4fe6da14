"""After-ready setup of Open WebUI: the n8n agent pipe installed, switched on and wired, on every `up`.

Open WebUI creates its admin itself from WEBUI_ADMIN_EMAIL/WEBUI_ADMIN_PASSWORD at its first start
(open_webui/main.py:401-404 at v0.12.4). Here we sign in as that admin, inside the container (so it
works in public mode too, where Open WebUI is not published), and install or update the function
through Open WebUI's own API. The passwords travel on stdin, never in argv.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from stack.config.settings import Settings
from stack.engines.compose import Compose
from stack.errors import StackError
from stack.services import n8n, open_webui

FUNCTION_ID = "n8n_agent"
FUNCTION_NAME = "n8n agent"
AGENT_USER = "openwebui"           # the starter workflow's chat trigger basic auth user (contract with n8n)
AGENT_PATH = "/webhook/localai-agent/chat"
REMOTE_SCRIPT = Path(__file__).with_name("webui_remote.py")
BAD_LOGIN = 3  # webui_remote.py's exit status when the admin in .env cannot sign in or is no admin


@dataclass(frozen=True)
class SetupResult:
    created: bool
    updated: bool
    activated: bool

    def summary(self) -> str:
        if self.created:
            return "Open WebUI: installed the n8n agent (pick \"n8n agent\" in the model list)"
        if self.updated or self.activated:
            return "Open WebUI: updated the n8n agent and switched it on"
        return ""


def job(settings: Settings, build: Path) -> dict[str, object]:
    """What the in-container script needs (holds secrets: stdin only)."""
    return {
        "base": f"http://127.0.0.1:{open_webui.SERVICE.port}",
        "email": settings["WEBUI_ADMIN_EMAIL"],
        "password": settings["WEBUI_ADMIN_PASSWORD"],
        "function": {"id": FUNCTION_ID, "name": FUNCTION_NAME,
                     "content": (build / "open-webui" / "n8n_pipe.py").read_text(),
                     "meta": {"description": "Chat with the Local AI Stack's n8n starter agent"}},
        "valves": {"n8n_url": f"{n8n.SERVICE.internal_url}{AGENT_PATH}", "n8n_user": AGENT_USER,
                   "n8n_password": settings.values.get("N8N_AGENT_PASSWORD", "")},
    }


def ensure_pipe(settings: Settings, compose: Compose, build: Path) -> SetupResult:
    """Idempotent: create or update the function, switch it on, set its valves."""
    try:
        result = compose.exec("open-webui", ["python3", "-c", REMOTE_SCRIPT.read_text()],
                              input_text=json.dumps(job(settings, build)), timeout=180)
    except StackError as exc:
        last = exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else str(exc)
        hint = "see `python start.py logs open-webui`; start.py tries again on the next run"
        if exc.returncode == BAD_LOGIN:
            hint = ("this Open WebUI already had accounts before start.py created its admin, so the admin in .env "
                    "was never made: put that admin's email and password into WEBUI_ADMIN_EMAIL and "
                    "WEBUI_ADMIN_PASSWORD in .env (`python start.py accounts` shows what start.py uses)")
        raise StackError(f"Open WebUI setup of the n8n agent failed: {last}", hint=hint) from exc
    done = json.loads(result.stdout.strip().splitlines()[-1])
    return SetupResult(bool(done["created"]), bool(done["updated"]), bool(done["activated"]))
