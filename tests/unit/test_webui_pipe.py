"""The rendered Open WebUI -> n8n pipe, run the way Open WebUI v0.12.4 runs a pipe.

Open WebUI removes body["metadata"] (open_webui/functions.py:226) and passes the chat id and the
background task as __chat_id__ / __task__ (functions.py:243-258), only for the parameters the
pipe's signature names (functions.py:203-204). The fake n8n below is a plain local HTTP server
answering like the starter workflow's chat trigger ({"output": ...}).
"""
from __future__ import annotations

import asyncio
import base64
import importlib.util
import inspect
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import run_start

SECRET = "Agent-Password-123"


def _load_pipe(project: Path):
    assert run_start(project, "render").returncode == 0
    path = project / "build" / "open-webui" / "n8n_pipe.py"
    spec = importlib.util.spec_from_file_location("n8n_pipe_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Pipe()


class _N8n(BaseHTTPRequestHandler):
    calls: list[dict[str, object]] = []
    delay = 0.0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _N8n.calls.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization", "")})
        time.sleep(_N8n.delay)
        data = json.dumps({"output": f"agent says: {body.get('chatInput')}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def n8n():
    _N8n.calls, _N8n.delay = [], 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _N8n)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/webhook/localai-agent/chat"
    server.shutdown()


async def _call(pipe, body: dict, **extra: object) -> str:
    """Like generate_function_chat_completion: pop metadata, pass only the named extras."""
    body = dict(body)
    metadata = body.pop("metadata", {})
    params = {"__chat_id__": metadata.get("chat_id"), "__task__": metadata.get("task"),
              "__user__": {"id": "u1", "email": "a@b.c"}, "__event_emitter__": None, **extra}
    names = inspect.signature(pipe.pipe).parameters
    return await pipe.pipe(body=body, **{k: v for k, v in params.items() if k in names})


def test_defaults_match_the_n8n_contract(project):
    pipe = _load_pipe(project)
    assert pipe.valves.n8n_url == "http://n8n:5678/webhook/localai-agent/chat"
    assert pipe.valves.n8n_user == "openwebui"
    assert inspect.iscoroutinefunction(pipe.pipe)
    assert {"__chat_id__", "__task__"} <= set(inspect.signature(pipe.pipe).parameters)


def test_session_is_the_chat_id_and_the_contract_body_is_sent(project, n8n):
    pipe = _load_pipe(project)
    pipe.valves = pipe.Valves(n8n_url=n8n, n8n_password=SECRET)
    messages = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "hello agent"}]
    for _ in range(2):  # two messages of one chat, seconds apart: the same memory
        answer = asyncio.run(_call(pipe, {"messages": messages, "metadata": {"chat_id": "chat-42"}}))
        assert answer == "agent says: hello agent"
        time.sleep(1.1)
    assert [c["body"] for c in _N8n.calls] == [{"action": "sendMessage", "sessionId": "chat-42",
                                                 "chatInput": "hello agent"}] * 2
    expected = "Basic " + base64.b64encode(f"openwebui:{SECRET}".encode()).decode()
    assert {c["auth"] for c in _N8n.calls} == {expected}


def test_background_tasks_never_reach_the_agent(project, n8n):
    pipe = _load_pipe(project)
    pipe.valves = pipe.Valves(n8n_url=n8n)
    body = {"messages": [{"role": "user", "content": "Generate a concise title..."}],
            "metadata": {"chat_id": "c", "task": "title_generation"}}
    for task in ("title_generation", "tags_generation", "follow_up_generation", "query_generation"):
        body["metadata"]["task"] = task
        assert asyncio.run(_call(pipe, body)) == ""
    assert _N8n.calls == []


def test_a_slow_agent_does_not_block_the_server(project, n8n):
    """Open WebUI awaits the pipe on its one event loop: /health must keep answering meanwhile."""
    pipe = _load_pipe(project)
    pipe.valves = pipe.Valves(n8n_url=n8n)
    _N8n.delay = 1.5

    async def scenario() -> list[float]:
        ticks: list[float] = []

        async def health() -> None:
            start = time.monotonic()
            while time.monotonic() - start < 1.2:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.05)

        ticker = asyncio.create_task(health())
        await asyncio.sleep(0.2)  # the server is already busy with other requests
        await _call(pipe, {"messages": [{"role": "user", "content": "x"}], "metadata": {"chat_id": "c"}})
        await ticker
        return ticks

    ticks = asyncio.run(scenario())
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) > 10 and max(gaps) < 0.5, f"event loop blocked for {max(gaps):.2f}s"


def test_n8n_errors_are_shown_not_raised(project):
    pipe = _load_pipe(project)
    pipe.valves = pipe.Valves(n8n_url="http://127.0.0.1:9/webhook/localai-agent/chat", timeout_seconds=3)
    answer = asyncio.run(_call(pipe, {"messages": [{"role": "user", "content": "x"}], "metadata": {"chat_id": "c"}}))
    assert answer.startswith("n8n did not answer:")
