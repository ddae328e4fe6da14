"""`images push|save|load`: fill a registry mirror, or carry the images to an offline machine."""
from __future__ import annotations

from pathlib import Path

import click

from stack.cli.options import overrides
from stack.cli.ui import ConsoleUi
from stack.config.settings import Settings
from stack.ops import images as imgs
from stack.ops import offline
from stack.paths import ROOT


def _settings(ctx: click.Context) -> Settings:
    return imgs.settings_for(ROOT, overrides(ctx, None, None))


@click.group("images")
def images() -> None:
    """Fill a registry mirror (IMAGE_REGISTRY), or carry the images to a machine without network."""


@images.command("push")
@click.argument("registry")
@click.pass_context
def images_push(ctx: click.Context, registry: str) -> None:
    """Push every image this configuration runs to REGISTRY (host[:port][/prefix]), at the paths
    IMAGE_REGISTRY pulls them from."""
    imgs.push(_settings(ctx), registry, ConsoleUi())


@images.command("save")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.pass_context
def images_save(ctx: click.Context, file: Path | None) -> None:
    """Write one bundle (images, manifest, checksums) for this profile and Supabase set to FILE."""
    settings = _settings(ctx)
    offline.save(settings, file or Path(offline.default_name(settings)), ConsoleUi())


@images.command("load")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def images_load(ctx: click.Context, file: Path) -> None:
    """Verify a bundle against this .env, then load its images (nothing is loaded if it does not match)."""
    offline.load(_settings(ctx), file, ConsoleUi())
