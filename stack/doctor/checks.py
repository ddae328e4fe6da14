"""`start.py doctor`: what will get in the way of the stack (Docker, Compose, disk, RAM, ports,
GPU), in the order shown, plus the few findings `up` shows before it starts."""
from __future__ import annotations

import re

from stack.config.settings import Settings
from stack.doctor.advice import check_models, context_choice, context_finding
from stack.doctor.findings import OK, PROBLEM, WARNING, Finding
from stack.doctor.gpu import check_gpu
from stack.doctor.probes import (
    SystemProbe,
    docker_info,
    holder,
    json_object,
    listeners,
    memory_gb,
    own_ports,
    version_tuple,
)
from stack.engines.compose import COMPOSE_HINT, MIN_COMPOSE
from stack.engines.errors import DockerSocketDenied, classify
from stack.services import ports, published_ports

DISK_WARN_GB, DISK_PROBLEM_GB, RAM_WARN_GB = 20, 5, 8
MIN_ENGINE = (20, 10)  # host.docker.internal:host-gateway, which the compose files use, needs 20.10


def check_docker(probe: SystemProbe) -> list[Finding]:
    out = probe.command(["docker", "version", "--format", "{{json .}}"])
    server = json_object(out.stdout).get("Server") or {}
    version = str(server.get("Version", "")) if isinstance(server, dict) else ""
    mac = probe.system()[0] == "Darwin"
    if out.code == 127:
        engine = Finding(PROBLEM, "Docker", "the docker command is not installed",
                         "install Docker Desktop" if mac else
                         "install Docker Engine: https://docs.docker.com/engine/install/")
    elif out.code == 124:
        engine = Finding(PROBLEM, "Docker", "Docker did not answer within "
                         f"{probe.timeout:.0f}s", "restart Docker Desktop" if mac else "sudo systemctl restart docker")
    elif out.code != 0 or not version:
        if classify(["docker"], out.stderr + out.stdout) is DockerSocketDenied:
            engine = Finding(PROBLEM, "Docker", "this user may not use the Docker socket",
                             "sudo usermod -aG docker $USER, then log out and back in")
        else:
            engine = Finding(PROBLEM, "Docker", "the Docker Engine is not running or not reachable",
                             "start Docker Desktop" if mac else "sudo systemctl start docker")
    elif version_tuple(version)[:2] < MIN_ENGINE:
        engine = Finding(WARNING, "Docker", f"Engine {version} is older than 20.10: containers cannot reach "
                         "the host as host.docker.internal", "upgrade Docker Engine")
    else:
        engine = Finding(OK, "Docker", f"Engine {version}")

    out = probe.command(["docker", "compose", "version", "--short"])
    compose_version = out.stdout.strip().lstrip("v")
    need = ".".join(map(str, MIN_COMPOSE))
    if out.code != 0 or not re.match(r"\d+\.\d+", compose_version):
        compose = Finding(PROBLEM, "Compose", "Docker Compose v2 (`docker compose`) is missing", COMPOSE_HINT)
    elif version_tuple(compose_version) < MIN_COMPOSE:
        compose = Finding(PROBLEM, "Compose", f"Compose {compose_version} is too old ({need} or newer needed)",
                          COMPOSE_HINT)
    else:
        compose = Finding(OK, "Compose", f"Compose {compose_version}")
    return [engine, compose]


def check_disk(settings: Settings, probe: SystemProbe) -> Finding:
    """Free space where Docker keeps images and volumes (the models live in a volume)."""
    place = str(docker_info(probe).get("DockerRootDir") or "")
    if not place or not probe.exists(place):
        place = str(settings.root)
    free = probe.free_disk_gb(place)
    level = PROBLEM if free < DISK_PROBLEM_GB else WARNING if free < DISK_WARN_GB else OK
    return Finding(level, "disk", f"{free:.0f} GB free on {place} (images, volumes, models)",
                   "" if level == OK else "free some space or give Docker a bigger disk: the images take "
                   "several GB and each model 2-5 GB (7-8B) up to 40 GB (70B)")


def check_ram(probe: SystemProbe) -> Finding:
    total, available = memory_gb(probe)
    if not total:
        return Finding(WARNING, "RAM", "could not read the amount of memory", "")
    shown = f"{total:.0f} GB total" + (f", {available:.0f} GB available" if available else "")
    if total < RAM_WARN_GB:
        return Finding(WARNING, "RAM", shown + ": tight for the services plus a model",
                       "8 GB or more is recommended; use small models (llama3.2:3b) and close other programs")
    return Finding(OK, "RAM", shown)


def check_ports(settings: Settings, probe: SystemProbe) -> list[Finding]:
    """Every host port the chosen environment publishes must be free (or already ours)."""
    wanted = {p.port for p in published_ports(settings)}
    held, ours = listeners(probe), own_ports(settings, probe)
    findings = []
    for published in sorted(ports.taken(settings, ours, probe.port_in_use, held), key=lambda p: p.port):
        who = holder(held.get(published.port, []))
        fix = (f"stop it, or set {published.setting} in .env to a free port" if published.setting
               else "stop it: public mode needs ports 80 and 443 for Caddy")
        findings.append(Finding(PROBLEM, "ports", f"port {published.port} ({published.source}) is taken by {who}",
                                fix))
    if not findings:
        mine = f"; {len(ours & set(wanted))} already served by this stack" if ours & set(wanted) else ""
        findings.append(Finding(OK, "ports", f"{settings.environment} mode needs "
                                f"{', '.join(map(str, sorted(wanted)))}: free{mine}"))
    if settings.profile == "none":
        findings.extend(_host_ollama(settings, probe, held))
    return findings


def _host_ollama(settings: Settings, probe: SystemProbe, listeners: dict[int, list[tuple[str, str]]]) -> list[Finding]:
    """Profile none: the host's Ollama must be listening, and on Linux not only on loopback."""
    match = re.match(r"https?://([^:/]+)(?::(\d+))?", settings["OLLAMA_HOST_URL"])
    if not match or match.group(1) != "host.docker.internal":
        return []
    port = int(match.group(2) or 80)
    if probe.port_in_use("127.0.0.1", port) is False:
        return [Finding(WARNING, "Ollama", f"profile none, but nothing listens on port {port} here",
                        "start Ollama on this machine (the Ollama app, or `ollama serve`)")]
    addresses = {address for address, _ in listeners.get(port, [])}
    if probe.system()[0] == "Linux" and addresses and addresses <= {"127.0.0.1", "::1"}:
        return [Finding(WARNING, "Ollama", f"the host's Ollama listens on 127.0.0.1:{port} only; containers "
                        "reach the host through the Docker bridge", "set OLLAMA_HOST=0.0.0.0 for it (e.g. "
                        "`sudo systemctl edit ollama`) and keep the port closed in the firewall")]
    return [Finding(OK, "Ollama", f"profile none: Ollama on this machine answers on port {port}")]


def run_checks(settings: Settings, probe: SystemProbe) -> list[Finding]:
    """All of doctor's findings, in the order they are shown."""
    findings = check_docker(probe)
    findings.append(check_disk(settings, probe))
    findings.append(check_ram(probe))
    findings.extend(check_ports(settings, probe))
    gpu = check_gpu(settings, probe)
    findings.extend(gpu.findings)
    choice = context_choice(settings, probe, gpu)
    if settings.profile != "none":
        findings.append(context_finding(settings, choice))
    findings.extend(check_models(settings, probe, gpu, choice.tokens))
    return findings


def before_up(settings: Settings, probe: SystemProbe) -> tuple[list[Finding], Finding | None]:
    """What `up` shows first: the disk, RAM and GPU findings that are not ok, and the context window
    Ollama gets (None with profile none). Chosen by the check that made them, not by their words."""
    gpu = check_gpu(settings, probe)
    shown = [f for f in (check_disk(settings, probe), check_ram(probe), *gpu.findings) if f.level != OK]
    context = context_finding(settings, context_choice(settings, probe, gpu)) if settings.profile != "none" else None
    return shown, context
