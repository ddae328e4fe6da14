"""The images a configuration runs, where each is on this machine, and `images push`: fill a
registry mirror (IMAGE_REGISTRY, stack/config/mirror.py) from the images here."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
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
# docker push compresses each layer on one core, and most of our images are one big layer on a shared
# base: a few pushes side by side keep every core busy (on 2 cores, about twice as fast as one by one).
PUSH_AT_ONCE = 3
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


def first_uploads(items: list[Needed], local: dict[str, str]) -> dict[str, set[str]]:
    """setting -> the settings of the earlier images that carry one of its layers first. Pushes side
    by side would each upload a layer they share (docker keeps one upload per repository); after the
    first, the registry has it and the others only link it."""
    refs = [local[item.key] for item in items]
    listed = runner.run(["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", *refs], timeout=60)
    carrier: dict[str, str] = {}
    waits: dict[str, set[str]] = {}
    for item, line in zip(items, listed.stdout.splitlines(), strict=True):
        firsts = {carrier.setdefault(layer, item.key) for layer in json.loads(line)}
        waits[item.key] = firsts - {item.key}
    return waits


def push_side_by_side(items: list[Needed], local: dict[str, str], targets: dict[str, str], ui: Ui) -> list[str]:
    """`docker push` of each item's tagged target, PUSH_AT_ONCE at a time; per item '' when pushed,
    else docker's last line: why not. An image waits until the images that upload a layer it shares
    are pushed (then its push only links that layer); after Ctrl-C no waiting push starts."""
    waits = first_uploads(items, local)
    done = {item.key: threading.Event() for item in items}
    stopping = threading.Event()

    def push_one(number: int, item: Needed) -> str:
        try:
            for key in waits[item.key]:
                done[key].wait()
            if stopping.is_set():
                return "stopped"
            tag = f"[{number}/{len(items)}]"
            ui.note(f"{tag} {local[item.key]} -> {targets[item.key]}", plain=True)
            lines: list[str] = []
            if runner.relay(["docker", "push", targets[item.key]], keep=lines, prefix=f"{tag} ") == 0:
                return ""
            return next((line for line in reversed(lines) if line.strip()), "docker push failed")
        finally:
            done[item.key].set()

    pool = ThreadPoolExecutor(max_workers=PUSH_AT_ONCE)
    try:  # submitted in order: the image that uploads a shared layer starts first
        jobs = [pool.submit(push_one, number, item) for number, item in enumerate(items, 1)]
        return [job.result() for job in jobs]
    finally:
        stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)


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
    targets = {item.key: mirror_ref(registry, item.pin) for item in items}
    made = [targets[i.key] for i in items if targets[i.key] != local[i.key] and local_id(targets[i.key]) is None]
    try:
        for item in items:
            if targets[item.key] != local[item.key]:
                runner.run(["docker", "tag", local[item.key], targets[item.key]], timeout=60)
        reasons = push_side_by_side(items, local, targets, ui)
    finally:
        for target in made:
            runner.run(["docker", "image", "rm", target], check=False, timeout=60)
    pushed = [targets[item.key] for item, reason in zip(items, reasons, strict=True) if not reason]
    failed = next(((item, reason) for item, reason in zip(items, reasons, strict=True) if reason), None)
    if failed:
        item, reason = failed
        raise StackError(f"pushing {targets[item.key]} ({item.key}) failed: {reason}; {len(pushed)} of {len(items)} "
                         "were pushed (run the same command again to go on)")
    ui.say(f"Pushed {len(pushed)} images to {registry}. On the machines that pull from it, set "
           f"IMAGE_REGISTRY={registry} in .env.", plain=True)
    return pushed
