"""Models: pull what OLLAMA_MODELS lists through Ollama's own streaming /api/pull, with progress."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import requests
from rich.progress import Progress, TaskID

from stack.config.settings import MODEL_RE, Settings
from stack.engines.compose import Compose
from stack.errors import ConfigError, StackError

PULL_TIMEOUT = (10, 600)  # connect, between stream chunks


def normalize(name: str) -> str:
    """Ollama's canonical short name: a missing tag means :latest."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def check_model_name(name: str) -> str:
    if not MODEL_RE.fullmatch(name):
        raise ConfigError(f"'{name}' is not a model name like llama3.2:3b")
    return name


def host_url(settings: Settings) -> str:
    """Where this machine reaches Ollama's API (private mode, or the host's own Ollama)."""
    if settings.profile == "none":
        return settings["OLLAMA_HOST_URL"].replace("host.docker.internal", "127.0.0.1")
    return f"http://127.0.0.1:{settings['OLLAMA_PORT']}"


class ContainerOllama:
    """Public mode: Ollama is not published on the host, so use its own CLI inside its container."""

    def __init__(self, compose: Compose) -> None:
        self.compose = compose

    def _cli(self, *args: str, timeout: float = 60) -> tuple[int, str]:
        result = self.compose.exec("ollama", ["ollama", *args], check=False, timeout=timeout)
        return result.returncode, (result.stdout + result.stderr).strip()

    def models(self) -> list[dict[str, object]]:
        code, out = self._cli("list")
        if code != 0:
            raise StackError(f"`ollama list` in the ollama container failed: {out.splitlines()[-1] if out else code}")
        return [{"name": line.split()[0], "size": 0, "modified_at": " ".join(line.split()[3:])}
                for line in out.splitlines()[1:] if line.strip()]

    def names(self) -> set[str]:
        return {normalize(str(m["name"])) for m in self.models()}

    def delete(self, name: str) -> None:
        code, out = self._cli("rm", name)
        if code != 0:
            raise StackError(f"Ollama could not delete {name}: {out.splitlines()[-1] if out else code}")

    def pull(self, name: str, progress: Progress, task: TaskID) -> None:
        progress.update(task, status="pulling in the container")
        code, out = self._cli("pull", name, timeout=7200)
        if code != 0:
            raise StackError(out.splitlines()[-1].removeprefix("Error: ") if out else f"exit code {code}")
        progress.update(task, total=1, completed=1)


@dataclass
class PullResult:
    pulled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class OllamaClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        try:
            return requests.request(method, self.base_url + path, timeout=kwargs.pop("timeout", 30),  # type: ignore[arg-type]
                                    **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            raise StackError(f"Ollama at {self.base_url} does not answer ({type(exc).__name__})",
                             hint="is the stack up? `python start.py status`") from exc

    def models(self) -> list[dict[str, object]]:
        response = self._request("GET", "/api/tags")
        if response.status_code != 200:
            raise StackError(f"Ollama /api/tags answered HTTP {response.status_code}")
        return list(response.json().get("models") or [])

    def names(self) -> set[str]:
        return {normalize(str(m.get("name") or m.get("model"))) for m in self.models()}

    def delete(self, name: str) -> None:
        response = self._request("DELETE", "/api/delete", json={"model": name})
        if response.status_code == 404:
            raise StackError(f"model {name} is not installed")
        if response.status_code != 200:
            raise StackError(f"Ollama could not delete {name}: HTTP {response.status_code}")

    def pull(self, name: str, progress: Progress, task: TaskID) -> None:
        """Stream /api/pull; raise StackError with Ollama's own reason on failure."""
        try:
            response = requests.post(self.base_url + "/api/pull", json={"model": name, "stream": True},
                                     stream=True, timeout=PULL_TIMEOUT)
        except requests.RequestException as exc:
            raise StackError(f"Ollama does not answer ({type(exc).__name__})") from exc
        with response:
            if response.status_code != 200:
                raise StackError(_reason(response.text) or f"HTTP {response.status_code}")
            layers: dict[str, tuple[int, int]] = {}
            status = ""
            for line in response.iter_lines():
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if "error" in event:
                    raise StackError(str(event["error"]))
                status = str(event.get("status", status))
                if event.get("digest") and event.get("total"):
                    layers[event["digest"]] = (int(event["total"]), int(event.get("completed") or 0))
                total = sum(t for t, _ in layers.values())
                done = sum(c for _, c in layers.values())
                progress.update(task, total=total or None, completed=done, status=status[:30])
            if status != "success":
                raise StackError(f"the pull stream ended without success (last status: {status or 'none'})")


def _reason(text: str) -> str:
    try:
        return str(json.loads(text).get("error", ""))
    except ValueError:
        return text.strip()[:200]


def pull_missing(client: OllamaClient | ContainerOllama, wanted: list[str], view: Progress) -> PullResult:
    """Pull each wanted model not yet present, one progress bar each in `view` (the Ui draws it);
    one failure never stops the others."""
    result = PullResult()
    present = client.names()
    todo = []
    for name in wanted:
        if normalize(name) in present:
            result.skipped.append(name)
        else:
            todo.append(name)
    if not todo:
        return result
    with view as progress:
        for name in todo:
            task = progress.add_task(name, total=None, status="starting")
            try:
                client.pull(name, progress, task)
                progress.update(task, status="done")
                result.pulled.append(name)
            except StackError as exc:
                progress.update(task, status="failed")
                result.failed[name] = exc.message
    return result
