"""Readiness: each service's own probe plus its container's health, polled in parallel."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from stack.config.settings import Settings
from stack.engines.base import ContainerState
from stack.services import Service

PROBE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Readiness:
    service: str
    ready: bool
    detail: str


def http_probe(url: str, expect: str = "", headers: dict[str, str] | None = None) -> tuple[bool, str]:
    """True when `url` answers 2xx (and its body contains `expect`)."""
    try:
        response = requests.get(url, headers=headers or {}, timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        return False, f"no answer ({type(exc).__name__})"
    if not 200 <= response.status_code < 300:
        return False, f"HTTP {response.status_code}"
    if expect and expect not in response.text:
        return False, "unexpected answer"
    return True, "ready"


def probe_target(service: Service, settings: Settings) -> tuple[str, dict[str, str]] | None:
    """The URL (and headers) of a service's own readiness probe as reachable from this host."""
    probe = service.probe
    if probe is None:
        return None
    headers = {header: settings[key] for header, key in probe.headers}
    if settings.public:
        if service.public_ports:
            return f"http://127.0.0.1:{service.public_ports[0].port}{probe.path}", headers
        return None  # not published: the container healthcheck runs the same probe inside
    return service.private_url(settings) + probe.path, headers


def check(service: Service, settings: Settings, state: ContainerState | None) -> Readiness:
    if state is None:
        return Readiness(service.name, False, "not created yet")
    if state.state != "running":
        return Readiness(service.name, False, state.state or "unknown")
    if state.health and state.health != "healthy":
        return Readiness(service.name, False, f"container {state.health}")
    target = probe_target(service, settings)
    if target is None:
        return Readiness(service.name, True, "ready")
    ok, detail = http_probe(target[0], service.probe.expect if service.probe else "", target[1])
    return Readiness(service.name, ok, detail)


def check_all(services: list[Service], settings: Settings,
              states: dict[str, ContainerState]) -> dict[str, Readiness]:
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        results = pool.map(lambda s: check(s, settings, states.get(s.name)), services)
        return {r.service: r for r in results}
