"""Images: pull what is missing first, so downloads never eat the readiness deadline."""
from __future__ import annotations

import yaml

from stack.config.images import DEFAULT_IMAGES
from stack.config.settings import Settings
from stack.engines import runner
from stack.engines.base import Engine
from stack.errors import StackError
from stack.ops.events import Ui
from stack.ops.project import build_dir
from stack.render.files import COMPOSE_FILE


def ensure_images(settings: Settings, engine: Engine, ui: Ui) -> None:
    """Pull missing images first, with Compose's own progress, so downloads never eat the readiness deadline."""
    config = yaml.safe_load((build_dir(settings.root) / COMPOSE_FILE).read_text())
    images = sorted({str(spec["image"]) for spec in config["services"].values()})
    if runner.run(["docker", "image", "inspect", *images], check=False, timeout=60).returncode == 0:
        return
    ui.note("Downloading the pinned images that are not here yet (the first run pulls several GB)...")
    output: list[str] = []
    if engine.pull(keep=output) != 0:
        missing = [ref for ref in images
                   if runner.run(["docker", "image", "inspect", ref], check=False, timeout=60).returncode != 0]
        raise StackError(pull_failure(settings, missing, output),
                         hint="check the tag and the network, or set IMAGE_REGISTRY in .env to a registry mirror "
                              "you can reach (`start.py images push` fills one; `images load` brings a bundle)")


def pull_failure(settings: Settings, missing: list[str], output: list[str]) -> str:
    """One line naming each image that could not be pulled, the setting that pins it, and why."""
    if not missing:
        return "pulling the images failed"
    keys: dict[str, list[str]] = {}
    for key in DEFAULT_IMAGES:  # the image settings, by the table that declares them
        keys.setdefault(settings.image(key), []).append(key)
    named = ", ".join(f"{ref} ({'/'.join(keys[ref])})" if ref in keys else ref for ref in missing)
    reasons = [line for line in output if missing[0] in line and "rror" in line]
    reason = reasons[-1].strip().removeprefix("Error response from daemon: ") if reasons else ""
    return f"could not pull {named}" + (f": {reason}" if reason else "")
