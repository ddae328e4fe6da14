"""The n8n double's production chat webhook: what n8n 2.41.3 does for a Chat Trigger (npm
@n8n/n8n-nodes-langchain@2.41.1 nodes/trigger/ChatTrigger/ChatTrigger.node.js) feeding an AI
Agent with an Ollama chat model and Postgres chat memory.

- The route is /webhook/<webhookId>/chat, POST (ChatTrigger.node.js:351-357, path
  CHAT_TRIGGER_PATH_SUFFIX "chat", n8n-workflow dist/cjs/constants.js:114), registered only
  while its workflow is active; otherwise 404 "The requested webhook "POST <path>" is not
  registered." (n8n dist/errors/response-errors/webhook-not-found.error.js:22).
- A trigger that is not public answers 404 with no body (ChatTrigger.node.js:852-857).
- basicAuth: no header 401, wrong user/password 403, with `www-authenticate: Basic
  realm="Webhook <id>"` (ChatTrigger.node.js:884-893, GenericFunctions.js validateAuth, error.js).
- responseMode lastNode: the Agent's first item, {"output": "..."}; a failing node gives 500
  {"message": "Error in workflow"} (n8n dist/webhooks/webhook-helpers.js:746-760).
- The model is called like LangChain's ChatOllama does: POST <baseUrl>/api/chat, streaming
  NDJSON. Memory is LangChain's PostgresChatMessageHistory table (id, session_id, message jsonb)
  in the database of the memory node's Postgres credential, keyed by the trigger's sessionId,
  reached with that credential's own password (a stale one fails like it fails in n8n).
- Not done by the double: tool calls (the Web search tool is listed to the model, never run).
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from doublelib.common import Pg, Response, ident, literal, log, psql, reply, urlopen
from store import Store

TRIGGER = "@n8n/n8n-nodes-langchain.chatTrigger"
AGENT = "@n8n/n8n-nodes-langchain.agent"
OLLAMA = "@n8n/n8n-nodes-langchain.lmChatOllama"
MEMORY = "@n8n/n8n-nodes-langchain.memoryPostgresChat"
ERROR_IN_WORKFLOW = {"message": "Error in workflow"}


class NodeError(Exception):
    """A node failed while the workflow ran (n8n logs it and answers Error in workflow)."""


def _not_registered(path: str) -> Response:
    return reply(404, {"code": 404, "message": f'The requested webhook "POST {path}" is not registered.',
                       "hint": "The workflow must be active for a production URL to run successfully. You can "
                               "activate the workflow using the toggle in the top-right of the editor. Note that "
                               "unlike test URL calls, production URL calls aren't shown on the canvas (only in "
                               "the executions list)"})


def _find(store: Store, webhook_id: str) -> tuple[dict, dict] | None:
    for workflow in store.workflows(active=True):
        for node in workflow["nodes"]:
            if node.get("type") == TRIGGER and node.get("webhookId") == webhook_id and not node.get("disabled"):
                return workflow, node
    return None


def _feeding(workflow: dict, target: str, kind: str) -> list[dict]:
    names = [name for name, outputs in workflow["connections"].items()
             for conn in (outputs.get(kind) or []) for c in (conn or []) if c.get("node") == target]
    return [n for n in workflow["nodes"] if n["name"] in names and not n.get("disabled")]


def _credential(store: Store, node: dict, kind: str) -> dict:
    ref = (node.get("credentials") or {}).get(kind) or {}
    found = store.credential(str(ref.get("id", ""))) if ref else None
    if not found:
        raise NodeError(f"Node {node['name']!r} does not have any credentials set")
    return found["data"]


def _basic_auth(request, store: Store, trigger: dict) -> Response | None:
    params = trigger.get("parameters") or {}
    if params.get("authentication", "none") != "basicAuth":
        return None
    realm = {"www-authenticate": f'Basic realm="Webhook {trigger["webhookId"]}"'}
    try:
        expected = _credential(store, trigger, "httpBasicAuth")
    except NodeError:
        expected = {}
    if not expected.get("user") or not expected.get("password"):
        return reply(500, "No authentication data defined on node!", realm)
    header = request.header("authorization")
    if not header.lower().startswith("basic "):
        return reply(401, "Authorization is required!", realm)
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except ValueError:
        return reply(401, "Authorization is required!", realm)
    if user != expected["user"] or password != expected["password"]:
        return reply(403, "Authorization data is wrong!", realm)
    return None


def _memory(store: Store, node: dict) -> tuple[Pg, str]:
    data = _credential(store, node, "postgres")
    table = (node.get("parameters") or {}).get("tableName") or "n8n_chat_histories"
    return (Pg(str(data.get("host", "localhost")), int(data.get("port", 5432)), str(data.get("user", "")),
               str(data.get("password", "")), str(data.get("database", ""))), table)


def _history(pg: Pg, table: str, session: str) -> list[dict]:
    result = psql(pg, f"CREATE TABLE IF NOT EXISTS {ident(table)} (id SERIAL PRIMARY KEY, session_id VARCHAR(255) "
                      f"NOT NULL, message JSONB NOT NULL);\nSELECT message::text FROM {ident(table)} "
                      f"WHERE session_id = {literal(session)} ORDER BY id;")
    if not result.ok:
        raise NodeError(f"Postgres Chat Memory: {result.reason()}")
    return [json.loads(line) for line in result.out.splitlines() if line.strip().startswith("{")]


def _remember(pg: Pg, table: str, session: str, human: str, ai: str) -> None:
    rows = ", ".join(f"({literal(session)}, {literal(json.dumps({'type': kind, 'data': {'content': text}}))}::jsonb)"
                     for kind, text in (("human", human), ("ai", ai)))
    result = psql(pg, f"INSERT INTO {ident(table)} (session_id, message) VALUES {rows};")
    if not result.ok:
        raise NodeError(f"Postgres Chat Memory: {result.reason()}")


def _chat(model_node: dict, base_url: str, messages: list[dict]) -> str:
    model = (model_node.get("parameters") or {}).get("model") or "llama3.2"
    body = json.dumps({"model": model, "messages": messages, "stream": True}).encode()
    request = urllib.request.Request(base_url.rstrip("/") + "/api/chat", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=300) as response:
            parts = [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]
    except urllib.error.HTTPError as exc:
        raise NodeError(f"Ollama Chat Model: HTTP {exc.code} {exc.read()[:200]!r}") from exc
    except (OSError, ValueError) as exc:
        raise NodeError(f"Ollama Chat Model: {exc}") from exc
    return "".join(str((p.get("message") or {}).get("content", "")) for p in parts)


def run_chat(request, store: Store, webhook_id: str, path: str) -> Response:
    found = _find(store, webhook_id)
    if found is None:
        return _not_registered(path)
    workflow, trigger = found
    if not (trigger.get("parameters") or {}).get("public"):
        return reply(404)
    refused = _basic_auth(request, store, trigger)
    if refused is not None:
        return refused
    body = request.json() if isinstance(request.json(), dict) else {}
    if body.get("action") == "loadPreviousSession":
        return reply(200, {"data": []})
    session, text = str(body.get("sessionId", "")), str(body.get("chatInput", ""))
    try:
        after = [c.get("node") for conn in (workflow["connections"].get(trigger["name"], {}).get("main") or [])
                 for c in (conn or [])]
        agent = next((n for n in workflow["nodes"] if n["name"] in after and n["type"] == AGENT), None)
        if agent is None:
            raise NodeError("no AI Agent after the Chat Trigger")
        models = [n for n in _feeding(workflow, agent["name"], "ai_languageModel") if n["type"] == OLLAMA]
        if not models:
            raise NodeError("AI Agent: a Chat Model sub-node must be connected")
        base_url = str(_credential(store, models[0], "ollamaApi").get("baseUrl", ""))
        memory = [n for n in _feeding(workflow, agent["name"], "ai_memory") if n["type"] == MEMORY]
        messages = []
        system = ((agent.get("parameters") or {}).get("options") or {}).get("systemMessage")
        if system:
            messages.append({"role": "system", "content": system})
        if memory:
            pg, table = _memory(store, memory[0])
            for item in _history(pg, table, session):
                role = "user" if item.get("type") == "human" else "assistant"
                messages.append({"role": role, "content": (item.get("data") or {}).get("content", "")})
        messages.append({"role": "user", "content": text})
        answer = _chat(models[0], base_url, messages)
        if memory:
            _remember(pg, table, session, text, answer)
    except NodeError as exc:
        log(f"Webhook execution failed before a response was sent: workflow {workflow['id']}: {exc}")
        return reply(500, ERROR_IN_WORKFLOW)
    log(f"workflow {workflow['id']} answered session {session[:8]}... ({len(messages)} messages to the model)")
    return reply(200, {"output": answer})
