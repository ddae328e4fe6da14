"""
title: n8n agent
description: Chat with the Local AI Stack's n8n starter agent. Installed and kept up to date by start.py.
version: 0.2.0
"""
# start.py installs this function through Open WebUI's API on every `up` and sets its Valves
# (URL, basic auth): nothing to do by hand. Pick "n8n agent" in the model list and chat.
# Open WebUI passes the chat id as __chat_id__ and its background tasks (titles, tags, follow-ups)
# as __task__ (open_webui/functions.py:243-258 at v0.12.4); body["metadata"] is removed before a
# pipe is called (functions.py:226), so the chat id is the agent's session (its memory).
import base64

import aiohttp
from pydantic import BaseModel, Field


class Pipe:
    class Valves(BaseModel):
        n8n_url: str = Field(default="{{ n8n_internal_url }}/webhook/localai-agent/chat",
                             description="The starter workflow's chat trigger (n8n webhook URL)")
        n8n_user: str = Field(default="openwebui", description="HTTP basic auth user of the chat trigger")
        n8n_password: str = Field(default="", description="HTTP basic auth password (set by start.py)")
        timeout_seconds: int = Field(default=300, description="How long to wait for the agent's answer")

    def __init__(self) -> None:
        self.type = "pipe"
        self.id = "n8n_agent"
        self.name = "n8n agent"
        self.valves = self.Valves()

    async def pipe(self, body: dict, __user__: dict | None = None, __chat_id__: str | None = None,
                   __task__: str | None = None, __event_emitter__=None) -> str:
        if __task__:
            # Title, tags, follow-ups, queries: never an agent run. An empty answer makes Open WebUI
            # fall back to its default (the title becomes the first message).
            return ""
        question = ""
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                content = message.get("content", "")
                if isinstance(content, list):  # text and images: keep the text parts
                    content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
                question = str(content)
                break
        session = __chat_id__ or f"user-{(__user__ or {}).get('id', 'unknown')}"
        if __event_emitter__:
            await __event_emitter__({"type": "status", "data": {"description": "Asking the n8n agent...",
                                                                "done": False}})
        payload = {"action": "sendMessage", "sessionId": session, "chatInput": question}
        headers = {}
        if self.valves.n8n_password:
            pair = f"{self.valves.n8n_user}:{self.valves.n8n_password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            timeout = aiohttp.ClientTimeout(total=self.valves.timeout_seconds)
            async with aiohttp.ClientSession(timeout=timeout) as client, \
                    client.post(self.valves.n8n_url, json=payload, headers=headers) as response:
                if response.status >= 400:
                    answer = f"n8n answered HTTP {response.status}: {(await response.text())[:300]}"
                else:
                    data = await response.json(content_type=None)
                    if isinstance(data, list) and data:
                        data = data[0]
                    answer = data.get("output") if isinstance(data, dict) else str(data)
                    answer = answer or "n8n answered without an 'output' field"
        except Exception as exc:  # shown to the user in the chat, not raised
            answer = f"n8n did not answer: {type(exc).__name__}: {exc}"
        if __event_emitter__:
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
        return str(answer)
