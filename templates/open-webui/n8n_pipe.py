"""
title: n8n agent
description: Send the chat to an n8n workflow (webhook) and show its answer. Rendered by Local AI Stack.
version: 0.1.0
"""
# Enable it: Open WebUI -> Admin Panel -> Functions -> "+" (Import) -> paste this file, save and
# switch it on. In its Valves set the webhook URL of your n8n workflow (a Webhook node that
# answers with "Respond to Webhook") and, if the webhook uses header auth, the bearer token.
from __future__ import annotations

import time

import requests
from pydantic import BaseModel, Field


class Pipe:
    class Valves(BaseModel):
        n8n_url: str = Field(default="{{ n8n_internal_url }}/webhook/localai-agent",
                             description="n8n webhook that receives the chat")
        n8n_bearer_token: str = Field(default="", description="Optional: sent as Authorization: Bearer")
        input_field: str = Field(default="chatInput", description="Field the workflow reads the question from")
        response_field: str = Field(default="output", description="Field the workflow answers in")
        timeout_seconds: int = Field(default=120)

    def __init__(self) -> None:
        self.type = "pipe"
        self.id = "n8n_agent"
        self.name = "n8n agent"
        self.valves = self.Valves()

    async def pipe(self, body: dict, __user__: dict | None = None, __event_emitter__=None) -> str:
        messages = body.get("messages") or []
        question = messages[-1].get("content", "") if messages else ""
        chat_id = (body.get("metadata") or {}).get("chat_id") or f"openwebui-{int(time.time())}"
        if __event_emitter__:
            await __event_emitter__({"type": "status", "data": {"description": "Asking n8n...", "done": False}})
        headers = {"Content-Type": "application/json"}
        if self.valves.n8n_bearer_token:
            headers["Authorization"] = f"Bearer {self.valves.n8n_bearer_token}"
        payload = {"sessionId": chat_id, self.valves.input_field: question,
                   "user": (__user__ or {}).get("email", "")}
        try:
            response = requests.post(self.valves.n8n_url, json=payload, headers=headers,
                                     timeout=self.valves.timeout_seconds)
            response.raise_for_status()
            data = response.json()
            if isinstance(data, list) and data:
                data = data[0]
            answer = data.get(self.valves.response_field) if isinstance(data, dict) else str(data)
        except Exception as exc:  # shown to the user in the chat, not raised
            answer = f"n8n did not answer: {exc}"
        if __event_emitter__:
            await __event_emitter__({"type": "status", "data": {"description": "Done", "done": True}})
        return str(answer or "n8n answered without a '" + self.valves.response_field + "' field")
