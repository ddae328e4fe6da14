"""The images a configuration runs, where each is on this machine, and `images push`: fill a
registry mirror (IMAGE_REGISTRY, stack/config/mirror.py) from the images here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stack.config.mirror import mirror_ref, registry_problem
from stack.config.settings import Settings
from stack.config.store import prepare
from stack.engines import runner
from stack.errors import ConfigError, StackError
from stack.ops.events import Ui
from stack.services import enabled_services

# compose/ollama.yml.j2 runs the ROCm build of Ollama with profile gpu-amd (tests/unit/test_image_mirror.py
# checks `needed` against every rendered profile and Supabase set).
PROFILE_IMAGES = {("gpu-amd", "OLLAMA_IMAGE"): "OLLAMA_ROCM_IMAGE"}
MISSING_HINT = ("`python start.py update` pulls the pinned images; on a machine without network, "
                "`python start.py images load FILE` brings them from a bundle")


@dataclass(frozen=True)
class Needed:
    key: str  # the *_IMAGE setting
    pin: str  # its value: .env's override or the pinned default
    ref: str  # what the stack runs: the pin through IMAGE_REGISTRY (the same without it)


def settings_for(root: Path, overrides: dict[str, str]) -> Settings:
    """The settings `up` would run with (.env, or the example on a fresh checkout, plus flags); nothing written."""
    return prepare(root, overrides).settings


def needed(settings: Settings) -> list[Needed]:
    """Every image the chosen profile and Supabase set run, in service order, each once."""
    keys: list[str] = []
    for service in enabled_services(settings):
        key = PROFILE_IMAGES.get((settings.profile, service.image_key), service.image_key)
        if key and key not in keys:
            keys.append(key)
    return [Needed(key, settings[key], settings.image(key)) for key in keys]


def local_id(ref: str) -> str | None:
    """The image id `ref` names on this machine, or None when it is not here."""
    result = runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], check=False, timeout=60)
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def locate(items: list[Needed], action: str) -> dict[str, str]:
    """setting -> the reference under which its image is here (what the stack runs, else the pin).
    All are looked up before anything is done: one missing image refuses the whole command."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for item in items:
        ref = next((r for r in dict.fromkeys((item.ref, item.pin)) if local_id(r)), None)
        if ref is None:
            missing.append(f"{item.pin} ({item.key})")
        else:
            found[item.key] = ref
    if missing:
        raise StackError(f"not on this machine: {', '.join(missing)}; nothing was {action}", hint=MISSING_HINT)
    return found


def push(settings: Settings, registry: str, ui: Ui) -> list[str]:
    """Tag every needed image at its mirror path under `registry` and push it, with docker's
    progress. Checks first that every image is here; the tags it made are removed afterwards."""
    registry = registry.rstrip("/")
    problem = registry_problem(registry)
    if problem:
        raise ConfigError(f"REGISTRY: '{registry}' {problem}")
    items = needed(settings)
    digested = [f"{i.pin} ({i.key})" for i in items if "@" in i.pin]
    if digested:
        raise ConfigError(f"pinned by digest, which a push cannot keep: {', '.join(digested)}; pin a tag instead")
    local = locate(items, "pushed")
    pushed: list[str] = []
    for number, item in enumerate(items, 1):
        target = mirror_ref(registry, item.pin)
        ui.note(f"[{number}/{len(items)}] {local[item.key]} -> {target}", plain=True)
        made = target != local[item.key] and local_id(target) is None
        if target != local[item.key]:
            runner.run(["docker", "tag", local[item.key], target], timeout=60)
        try:
            lines: list[str] = []
            if runner.relay(["docker", "push", target], keep=lines) != 0:
                reason = next((line for line in reversed(lines) if line.strip()), "docker push failed")
                raise StackError(f"pushing {target} ({item.key}) failed: {reason}; {len(pushed)} of {len(items)} "
                                 "were pushed (run the same command again to go on)")
        finally:
            if made:
                runner.run(["docker", "image", "rm", target], check=False, timeout=60)
        pushed.append(target)
    ui.say(f"Pushed {len(pushed)} images to {registry}. On the machines that pull from it, set "
           f"IMAGE_REGISTRY={registry} in .env.", plain=True)
    return pushed
