"""`images save` and `images load`: carry every image a configuration runs to a machine without
network, in one bundle file (format and checks: stack/ops/bundle.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from stack.config.settings import Settings
from stack.engines import runner
from stack.errors import ConfigError, StackError
from stack.ops import bundle
from stack.ops.events import Ui
from stack.ops.images import Needed, local_id, locate, needed


def default_name(settings: Settings) -> str:
    return f"localai-images-{settings.profile}-{settings['SUPABASE_SERVICES']}.tar"


def expected(settings: Settings, items: list[Needed] | None = None) -> dict[str, Any]:
    """What a bundle for this configuration must say: profile, Supabase set and the pins it runs."""
    return {"profile": settings.profile, "supabase_services": settings["SUPABASE_SERVICES"],
            "pins": {item.key: item.pin for item in (items if items is not None else needed(settings))}}


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def save(settings: Settings, target: Path, ui: Ui) -> Path:
    """Write one bundle with every image the configuration runs. Every image must be here first;
    `docker save` streams into the bundle's temporary file beside `target`, removed on any exit."""
    target = target.expanduser().absolute()
    if not target.parent.is_dir():
        raise ConfigError(f"{target.parent} is not a directory")
    if target.is_dir():
        raise ConfigError(f"{target} is a directory; name the bundle file")
    items = needed(settings)
    local = locate(items, "saved")
    refs = list(dict.fromkeys(local[item.key] for item in items))
    inspected = {ref: data for ref, data in zip(refs, json.loads(runner.run(
        ["docker", "image", "inspect", *refs], timeout=120).stdout), strict=True)}
    total = sum(int(inspected[ref].get("Size") or 0) for ref in refs)
    ui.note(f"Saving {len(refs)} images ({_size(total)} unpacked) for profile {settings.profile}, Supabase "
            f"{settings['SUPABASE_SERVICES']} to {target} ...", plain=True)
    manifest = {
        **expected(settings, items),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "images": [{"key": item.key, "pin": item.pin, "ref": local[item.key],
                    "id": inspected[local[item.key]]["Id"], "size": inspected[local[item.key]].get("Size"),
                    "repo_digests": inspected[local[item.key]].get("RepoDigests") or []} for item in items],
    }
    bundle.write(target, manifest, lambda sink: runner.drain(["docker", "save", *refs], sink))
    ui.say(f"Bundle written to {target} ({_size(target.stat().st_size)}, {len(refs)} images). On the offline "
           f"machine: `python start.py images load {target.name}`, then `python start.py`.", plain=True)
    return target


def load(settings: Settings, path: Path, ui: Ui) -> list[str]:
    """Verify the bundle completely (checksums, manifest against this configuration), and only then
    `docker load` it and tag each image as this configuration runs it (IMAGE_REGISTRY may differ)."""
    path = path.expanduser().absolute()
    verified = bundle.verify(path, expected(settings))
    images = verified.manifest["images"]
    ui.note(f"Bundle verified ({len(images)} images, checksums match). Loading {_size(verified.size)} ...",
            plain=True)
    with path.open("rb") as handle:
        handle.seek(verified.offset)
        runner.feed(["docker", "load"], handle, verified.size)
    ready: list[str] = []
    for image in images:
        want = settings.image(str(image["key"]))
        if want != image["ref"]:
            runner.run(["docker", "tag", str(image["ref"]), want], timeout=60)
        if local_id(want) != image["id"]:
            raise StackError(f"after loading, {want} ({image['key']}) is not the image the bundle holds")
        ready.append(want)
    ui.say(f"Loaded {len(ready)} images: `python start.py` needs no download for them.", plain=True)
    return ready
