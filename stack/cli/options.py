"""Options shared by the commands: --profile and --environment, on the group and on each command."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from stack.config.schema import ENVIRONMENTS, PROFILES, TARGETS
from stack.doctor.advice import detect_profile
from stack.doctor.probes import SystemProbe


def stack_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--target", "-t", type=click.Choice(TARGETS),
                        help="compose (this machine) or swarm (docker stack deploy). Remembered in .env.")(func)
    func = click.option("--environment", "-e", type=click.Choice(ENVIRONMENTS),
                        help="private (127.0.0.1 only) or public (Caddy with HTTPS). Remembered in .env.")(func)
    func = click.option("--profile", "-p", type=click.Choice((*PROFILES, "auto")),
                        help="How Ollama runs (auto: let doctor decide). Remembered in .env.")(func)
    return func


def overrides(ctx: click.Context, profile: str | None, environment: str | None,
              target: str | None = None) -> dict[str, str]:
    parent = ctx.find_root().params
    result: dict[str, str] = {}
    chosen_target = target or parent.get("target")
    if chosen_target:
        result["TARGET"] = chosen_target
    chosen_profile = profile or parent.get("profile")
    chosen_env = environment or parent.get("environment")
    if chosen_profile == "auto":
        chosen_profile, reason = detect_profile(SystemProbe())
        click.echo(f"--profile auto: {chosen_profile} ({reason})", err=True)
    if chosen_profile:
        result["PROFILE"] = chosen_profile
    if chosen_env:
        result["ENVIRONMENT"] = chosen_env
    return result
