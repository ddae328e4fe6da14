"""Images: pull what is missing first, so downloads never eat the readiness deadline."""
from __future__ import annotations

import yaml

from stack.engines import runner
from stack.engines.base import Engine
from stack.errors import StackError
from stack.ops.events import Ui
from stack.ops.project import build_dir
from stack.render import COMPOSE_FILE
from stack.settings import Settings


def ensure_images(settings: Settings, engine: Engine, ui: Ui) -> None:
    """Pull missing images first, with Compose's own progress, so downloads never eat the readiness deadline."""
    config = yaml.safe_load((build_dir(settings.root) / COMPOSE_FILE).read_text())
    images = sorted({str(spec["image"]) for spec in config["services"].values()})
    if runner.run(["docker", "image", "inspect", *images], check=False, timeout=60).returncode == 0:
        return
    ui.note("Downloading the pinned images that are not here yet (the first run pulls several GB)...")
    if engine.pull() != 0:
        raise StackError("pulling the images failed", hint="check the network, or point the *_IMAGE settings in .env "
                                                            "at a registry mirror you can reach")
