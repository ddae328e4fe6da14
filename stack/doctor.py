"""`start.py doctor`: what this machine has, what will get in the way of the stack, and which models fit.

Everything about the machine comes through one SystemProbe (commands via stack.runner, files, disk,
ports), so tests can hand in a probe with canned answers; the checks are plain functions over it.
The model-size and KV-cache arithmetic lives in stack.hardware.
"""
from __future__ import annotations

import json
import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from stack import runner
from stack.compose import COMPOSE_HINT, MIN_COMPOSE
from stack.errors import StackError
from stack.hardware import (
    GIB,
    MODEL_SHAPES,
    SIZE_CLASSES,
    ContextChoice,
    SizeClass,
    auto_context,
    fit_advice,
    kv_cache_bytes,
    largest_fit,
    shape_for,
)
from stack.services import ports, published_ports
from stack.settings import Settings

__all__ = ["Finding", "SystemProbe", "context_choice", "detect_profile", "doctor_exit_code", "fit_advice",
           "kv_cache_bytes", "render_report", "run_checks", "suggested_models"]

OK, WARNING, PROBLEM = "ok", "warning", "problem"
DISK_WARN_GB, DISK_PROBLEM_GB, RAM_WARN_GB = 20, 5, 8
MIN_ENGINE = (20, 10)  # host.docker.internal:host-gateway, which the compose files use, needs 20.10
CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
NVIDIA_SMI = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
TOOLKIT_FIX = ("install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/"
               "container-toolkit/latest/install-guide.html), then `sudo nvidia-ctk runtime configure "
               "--runtime=docker` and restart Docker")
CONFIGURE_FIX = "run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker"


@dataclass(frozen=True)
class Finding:
    level: str    # ok | warning | problem
    topic: str
    message: str
    fix: str = ""  # empty when ok


@dataclass(frozen=True)
class Output:
    code: int     # exit code; 127 = not installed, 124 = timed out
    stdout: str
    stderr: str = ""


class SystemProbe:
    """The only code that looks at the machine. Tests subclass it with canned answers."""

    timeout = 15.0

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], Output] = {}

    def command(self, argv: list[str]) -> Output:
        """Run argv through stack.runner (once per probe: doctor and detect_profile ask the same things)."""
        key = tuple(argv)
        if key not in self._seen:
            try:
                result = runner.run(list(argv), check=False, timeout=self.timeout)
                self._seen[key] = Output(result.returncode, result.stdout, result.stderr)
            except StackError as exc:  # not installed, or no answer in time
                self._seen[key] = Output(124 if "did not finish" in exc.message else 127, "", exc.message)
        return self._seen[key]

    def read(self, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(p.name for p in Path(path).iterdir())
        except OSError:
            return []

    def free_disk_gb(self, path: str) -> float:
        place = Path(path)
        while not place.exists() and place != place.parent:
            place = place.parent
        return shutil.disk_usage(place).free / GIB

    def system(self) -> tuple[str, str]:
        return platform.system(), platform.machine()

    def port_in_use(self, host: str, port: int) -> bool | None:
        """True if something holds host:port; None if we may not bind it (ports below 1024 without root)."""
        return ports.port_in_use(host, port)


# -- what the probe tells us --------------------------------------------------------------------


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gb: float  # 0 when unknown


def _json(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def docker_info(probe: SystemProbe) -> dict:
    out = probe.command(["docker", "info", "--format", "{{json .}}"])
    return _json(out.stdout) if out.code == 0 else {}


def memory_gb(probe: SystemProbe) -> tuple[float, float]:
    """(total, available) system memory in GB; zeros when unknown."""
    if probe.system()[0] == "Darwin":
        out = probe.command(["sysctl", "-n", "hw.memsize"])
        total = int(out.stdout.strip()) / GIB if out.code == 0 and out.stdout.strip().isdigit() else 0.0
        return total, 0.0
    info = dict(re.findall(r"^(\w+):\s+(\d+) kB", probe.read("/proc/meminfo"), re.M))
    return int(info.get("MemTotal", 0)) / 1024**2, int(info.get("MemAvailable", 0)) / 1024**2


def nvidia_gpus(probe: SystemProbe) -> list[Gpu]:
    out = probe.command(NVIDIA_SMI)
    gpus = []
    for line in out.stdout.splitlines() if out.code == 0 else []:
        name, _, mib = line.rpartition(",")
        if name.strip() and mib.strip().isdigit():
            gpus.append(Gpu(name.strip(), int(mib) / 1024))
    return gpus


def nvidia_cdi_spec(probe: SystemProbe) -> str:
    """Path of a CDI spec that describes NVIDIA GPUs (made by `nvidia-ctk cdi generate`), or ''."""
    for folder in CDI_DIRS:
        for name in probe.listdir(folder):
            path = f"{folder}/{name}"
            if "nvidia" in name.lower() or "nvidia.com/gpu" in probe.read(path):
                return path
    return ""


def nvidia_route(probe: SystemProbe) -> tuple[str, str]:
    """How Docker can hand an NVIDIA GPU to a container: (route, description); route '' = it cannot.

    runtime: the toolkit is registered with Docker; cdi: a CDI spec and Docker's CDI support is on;
    toolkit: installed (its hook serves --gpus) but not registered with Docker.
    """
    info = docker_info(probe)
    if "nvidia" in (info.get("Runtimes") or {}):
        return "runtime", "the NVIDIA Container Toolkit (nvidia runtime)"
    spec = nvidia_cdi_spec(probe)
    if spec and info.get("CDISpecDirs"):
        return "cdi", f"CDI ({spec})"
    ctk = probe.command(["nvidia-ctk", "--version"])
    if ctk.code == 0:
        version = ctk.stdout.strip().splitlines()[0] if ctk.stdout.strip() else "nvidia-ctk"
        return "toolkit", f"the NVIDIA Container Toolkit ({version}), not yet registered with Docker"
    if spec:
        return "", f"a CDI spec ({spec}), but Docker's CDI support is off"
    return "", ""


def amd_devices(probe: SystemProbe) -> bool:
    return probe.exists("/dev/kfd") and probe.exists("/dev/dri")


def amd_vram_gb(probe: SystemProbe) -> float:
    out = probe.command(["rocm-smi", "--showmeminfo", "vram", "--json"])
    cards = _json(out.stdout).values() if out.code == 0 else []
    sizes = [int(v) for card in cards if isinstance(card, dict)
             for k, v in card.items() if "Total Memory" in k and "Used" not in k and str(v).isdigit()]
    return sum(sizes) / GIB


def _listeners(probe: SystemProbe) -> dict[int, list[tuple[str, str]]]:
    """port -> [(address, process)] from `ss -ltnpH`; process is '' when ss may not say."""
    out = probe.command(["ss", "-ltnpH"])
    found: dict[int, list[tuple[str, str]]] = {}
    for line in out.stdout.splitlines() if out.code == 0 else []:
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[3]:
            continue
        address, _, port = fields[3].rpartition(":")
        match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', line)
        process = f"{match.group(1)} (pid {match.group(2)})" if match else ""
        if port.isdigit():
            found.setdefault(int(port), []).append((address.strip("[]"), process))
    return found


def _holder(entries: list[tuple[str, str]]) -> str:
    process = next((p for _, p in entries if p), "")
    if process.startswith("docker-proxy"):
        return f"a Docker container ({process}; `docker ps` shows which)"
    return process or "another program (`sudo ss -ltnp` shows which)"


def _own_ports(settings: Settings, probe: SystemProbe) -> set[int]:
    """Host ports already published by this stack's running containers (not a conflict)."""
    out = probe.command(["docker", "ps", "--filter", f"label=com.docker.compose.project={settings.project}",
                         "--format", "{{.Ports}}"])
    return {int(p) for p in re.findall(r":(\d+)->", out.stdout)} if out.code == 0 else set()


# -- the checks ---------------------------------------------------------------------------------


def check_docker(probe: SystemProbe) -> list[Finding]:
    out = probe.command(["docker", "version", "--format", "{{json .}}"])
    server = _json(out.stdout).get("Server") or {}
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
        if "permission denied" in (out.stderr + out.stdout).lower():
            engine = Finding(PROBLEM, "Docker", "this user may not use the Docker socket",
                             "sudo usermod -aG docker $USER, then log out and back in")
        else:
            engine = Finding(PROBLEM, "Docker", "the Docker Engine is not running or not reachable",
                             "start Docker Desktop" if mac else "sudo systemctl start docker")
    elif _version(version)[:2] < MIN_ENGINE:
        engine = Finding(WARNING, "Docker", f"Engine {version} is older than 20.10: containers cannot reach "
                         "the host as host.docker.internal", "upgrade Docker Engine")
    else:
        engine = Finding(OK, "Docker", f"Engine {version}")

    out = probe.command(["docker", "compose", "version", "--short"])
    compose_version = out.stdout.strip().lstrip("v")
    need = ".".join(map(str, MIN_COMPOSE))
    if out.code != 0 or not re.match(r"\d+\.\d+", compose_version):
        compose = Finding(PROBLEM, "Compose", "Docker Compose v2 (`docker compose`) is missing", COMPOSE_HINT)
    elif _version(compose_version) < MIN_COMPOSE:
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
    listeners, ours = _listeners(probe), _own_ports(settings, probe)
    findings = []
    for published in sorted(ports.taken(settings, ours, probe.port_in_use, listeners), key=lambda p: p.port):
        port, source = published.port, published.source
        who = _holder(listeners.get(port, []))
        fix = (f"stop it, or set {source} in .env to a free port" if published.setting
               else "stop it: public mode needs ports 80 and 443 for Caddy")
        findings.append(Finding(PROBLEM, "ports", f"port {port} ({source}) is taken by {who}", fix))
    if not findings:
        mine = f"; {len(ours & set(wanted))} already served by this stack" if ours & set(wanted) else ""
        findings.append(Finding(OK, "ports", f"{settings.environment} mode needs "
                                f"{', '.join(map(str, sorted(wanted)))}: free{mine}"))
    if settings.profile == "none":
        findings.extend(_host_ollama(settings, probe, listeners))
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


@dataclass(frozen=True)
class Accelerator:
    """What doctor concluded about the GPU: findings, and the memory models get."""

    findings: list[Finding]
    memory_gb: float  # VRAM (or Apple unified memory); 0 = no GPU or size unknown
    kind: str         # "VRAM" | "unified memory" | "" (no GPU)


def check_gpu(settings: Settings, probe: SystemProbe) -> Accelerator:
    """The GPU doctor found, whether Docker can use it, and whether it matches the chosen profile."""
    system, machine = probe.system()
    if system == "Darwin":
        return _apple(settings.profile, machine, probe)
    found = _linux_gpu(settings, probe)
    if settings.profile == "gpu-nvidia" and not nvidia_gpus(probe):
        found.findings.append(Finding(PROBLEM, "profile", "profile gpu-nvidia, but nvidia-smi finds no NVIDIA GPU",
                                      "install the NVIDIA driver, or use --profile auto"))
    if settings.profile == "gpu-amd" and not amd_devices(probe):
        found.findings.append(Finding(PROBLEM, "profile", "profile gpu-amd, but /dev/kfd or /dev/dri is missing",
                                      "install the amdgpu/ROCm driver, or use --profile auto"))
    return found


def _linux_gpu(settings: Settings, probe: SystemProbe) -> Accelerator:
    profile = settings.profile
    findings: list[Finding] = []
    gpus = nvidia_gpus(probe)
    if gpus:
        route, how = nvidia_route(probe)
        names = ", ".join(f"{g.name} ({g.memory_gb:.0f} GB)" for g in gpus)
        if route in ("runtime", "cdi"):
            findings.append(Finding(OK, "GPU", f"NVIDIA {names}; Docker reaches it through {how}"))
        elif route == "toolkit":
            findings.append(Finding(WARNING, "GPU", f"NVIDIA {names}; found {how}", CONFIGURE_FIX))
        else:
            level = PROBLEM if profile == "gpu-nvidia" else WARNING  # a problem only if the profile needs it
            fix = ('add "features": {"cdi": true} to /etc/docker/daemon.json and restart Docker (Docker 25+), '
                   f"or {CONFIGURE_FIX}") if how else TOOLKIT_FIX
            findings.append(Finding(level, "GPU", f"NVIDIA {names}, but Docker cannot use it: "
                                    + (f"found {how}" if how else "no NVIDIA Container Toolkit"), fix))
        if route and profile == "cpu":
            findings.append(Finding(WARNING, "profile", "an NVIDIA GPU is ready but the profile is cpu",
                                    "use --profile gpu-nvidia (or --profile auto)"))
        return Accelerator(findings, _usable_vram(settings, gpus), "VRAM")
    smi = probe.command(NVIDIA_SMI)
    if smi.code not in (0, 124, 127):
        first = (smi.stdout or smi.stderr).strip().splitlines()[:1]
        findings.append(Finding(WARNING, "GPU", "nvidia-smi cannot talk to the NVIDIA driver"
                                + (f": {first[0][:100]}" if first else ""),
                                "check the driver (reboot after installing it); `nvidia-smi` must list the GPU"))
    if amd_devices(probe):
        vram = amd_vram_gb(probe)
        size = f" ({vram:.0f} GB VRAM)" if vram else ""
        findings.append(Finding(OK, "GPU", f"AMD GPU{size}: ROCm devices /dev/kfd and /dev/dri are present"))
        if profile == "cpu":
            findings.append(Finding(WARNING, "profile", "an AMD GPU is present but the profile is cpu",
                                    "use --profile gpu-amd (or --profile auto)"))
        return Accelerator(findings, vram, "VRAM")
    if not any(f.topic == "GPU" for f in findings):
        where = {"cpu": ": Ollama runs on the CPU", "none": "; Ollama runs on this machine (profile none)"}
        findings.append(Finding(OK, "GPU", "no GPU that Docker can use" + where.get(profile, "")))
    return Accelerator(findings, 0.0, "")


def _apple(profile: str, machine: str, probe: SystemProbe) -> Accelerator:
    silicon = machine.startswith("arm")
    chip = "Apple Silicon" if silicon else f"Intel Mac ({machine})"
    if profile == "none":
        finding = Finding(OK, "GPU", f"{chip}: Ollama runs on the Mac itself (profile none)"
                          + (", with Metal" if silicon else ""))
    else:
        finding = Finding(WARNING, "GPU", f"{chip}: containers cannot use the Mac's GPU, so Ollama in Docker "
                          "would run on the CPU", "install Ollama for macOS and use --profile none")
    return Accelerator([finding], memory_gb(probe)[0] if silicon else 0.0, "unified memory" if silicon else "")


def _usable_vram(settings: Settings, gpus: list[Gpu]) -> float:
    """Ollama spreads a model over the GPUs it is given (OLLAMA_GPU_COUNT), so their VRAM adds up."""
    count = settings["OLLAMA_GPU_COUNT"]
    chosen = gpus if count == "all" else gpus[:int(count)]
    return sum(g.memory_gb for g in chosen)


def check_models(settings: Settings, probe: SystemProbe, gpu: Accelerator, ctx: int = 0) -> list[Finding]:
    """Which sizes and quantizations fit, and what OLLAMA_CONTEXT_LENGTH costs in KV cache."""
    findings: list[Finding] = []
    if gpu.kind and not gpu.memory_gb:
        rule = ", ".join(f"{gb} GB -> {fit.size}" for gb in (8, 12, 16, 24, 48) if (fit := largest_fit(gb)))
        findings.append(Finding(OK, "models", f"{gpu.kind} size unknown; at Q4_K_M: {rule}"))
        memory, on_gpu = 0.0, True
    elif gpu.kind:
        memory, on_gpu = gpu.memory_gb, True
    else:
        memory, on_gpu = memory_gb(probe)[0], False
    if memory:
        where = gpu.kind if on_gpu else "RAM"
        rows = fit_advice(memory, on_gpu)
        small = largest_fit(memory) is None
        for row in rows:
            findings.append(Finding(WARNING if small else OK, "models", f"{memory:.0f} GB {where}: {row}",
                                    "keep OLLAMA_MODELS to small models such as llama3.2:3b" if small else ""))
    fit = largest_fit(memory) if on_gpu else largest_fit(min(memory, SIZE_CLASSES[0].q4_high_gb))
    if not ctx:  # not given, or Ollama's choice on a GPU of unknown size: its smallest tier
        ctx = context_choice(settings, probe, gpu).tokens or 4096
    findings.extend(_kv_findings(settings, fit, memory if on_gpu else 0.0, ctx))
    return findings


def chat_model(settings: Settings) -> str:
    """The first configured model that is not an embedding model (the one people chat with)."""
    return next((m for m in settings.models if "embed" not in m), "llama3.2:3b")


def context_choice(settings: Settings, probe: SystemProbe, gpu: Accelerator | None = None) -> ContextChoice:
    """The context window Ollama gets: the .env value, or for `auto` what this machine can hold."""
    raw = settings["OLLAMA_CONTEXT_LENGTH"]
    if raw != "auto":
        return ContextChoice(int(raw), int(raw), "set in .env")
    if settings.profile == "none":
        return ContextChoice(None, 0, "profile none: the Ollama on this machine uses its own setting")
    if settings.profile == "cpu":
        return auto_context("cpu", 0.0, chat_model(settings), settings["OLLAMA_KV_CACHE_TYPE"])
    vram = (gpu or check_gpu(settings, probe)).memory_gb
    return auto_context(settings.profile, vram, chat_model(settings), settings["OLLAMA_KV_CACHE_TYPE"])


def context_finding(settings: Settings, choice: ContextChoice) -> Finding:
    shown = f"{choice.tokens} tokens" if choice.tokens else "chosen by Ollama"
    return Finding(OK, "context", f"OLLAMA_CONTEXT_LENGTH={settings['OLLAMA_CONTEXT_LENGTH']}: {shown} "
                   f"({choice.reason})")


def _kv_findings(settings: Settings, fit: SizeClass | None, vram_gb: float, ctx: int) -> list[Finding]:
    """KV-cache cost of the configured chat models and of the biggest size that fits."""
    chosen = settings["OLLAMA_KV_CACHE_TYPE"]
    shapes = {m: shape for m in settings.models if (shape := shape_for(m))}
    fit_model = fit.model if fit else ""
    if fit and fit_model not in shapes:
        shapes[fit_model] = MODEL_SHAPES[fit_model]
    findings = []
    for model, shape in list(shapes.items())[:3]:
        sizes = {t: kv_cache_bytes(shape, ctx, t) / GIB for t in ("f16", "q8_0", chosen)}
        text = (f"{model} at {ctx} tokens (OLLAMA_CONTEXT_LENGTH): {sizes['f16']:.2f} GiB at f16, "
                f"{sizes['q8_0']:.2f} GiB at q8_0" + (f", {sizes['q4_0']:.2f} GiB at q4_0" if chosen == "q4_0" else "")
                + f"; using {chosen}")
        level, fix = OK, ""
        if chosen == "f16":
            level, fix = WARNING, "set OLLAMA_KV_CACHE_TYPE=q8_0 (needs OLLAMA_FLASH_ATTENTION=1) to about halve it"
        weights = fit.q4_high_gb if fit else 0.0
        if model == fit_model and vram_gb and weights + sizes[chosen] > vram_gb:
            level = WARNING
            fix = (f"the ~{weights:g} GB of weights plus this cache exceed {vram_gb:.0f} GB, so Ollama moves "
                   "layers to the CPU: lower OLLAMA_CONTEXT_LENGTH" + (" or use q8_0" if chosen == "f16" else ""))
        findings.append(Finding(level, "KV cache", text, fix))
    return findings


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


def detect_profile(probe: SystemProbe) -> tuple[str, str]:
    """`--profile auto`: the profile this machine should use, and why."""
    system, _ = probe.system()
    if system == "Darwin":
        return "none", "macOS: containers cannot use the Mac's GPU; run Ollama on the Mac itself"
    gpus = nvidia_gpus(probe)
    if gpus:
        route, how = nvidia_route(probe)
        if route:
            return "gpu-nvidia", f"{gpus[0].name}, reachable through {how}"
    if amd_devices(probe):
        return "gpu-amd", "AMD GPU (/dev/kfd and /dev/dri)"
    if gpus:
        return "cpu", f"{gpus[0].name} found, but Docker cannot use it yet (see `start.py doctor`)"
    return "cpu", "no GPU that Docker can use"


def suggested_models(probe: SystemProbe) -> str:
    """First-run OLLAMA_MODELS: llama3.1:8b where a GPU (or a Mac) holds it comfortably, else llama3.2:3b."""
    system, machine = probe.system()
    vram = max((g.memory_gb for g in nvidia_gpus(probe)), default=0.0)
    if not vram and amd_devices(probe):
        vram = amd_vram_gb(probe)
    roomy = vram >= 8 or (system == "Darwin" and machine.startswith("arm") and memory_gb(probe)[0] >= 16)
    return f"{'llama3.1:8b' if roomy else 'llama3.2:3b'},nomic-embed-text"


LEVEL_STYLE = {OK: "green", WARNING: "yellow", PROBLEM: "red"}


def render_report(findings: list[Finding]) -> Table:
    table = Table(title="Local AI Stack doctor", title_justify="left")
    for column in ("", "Check", "Finding", "Fix"):
        table.add_column(column)
    for f in findings:
        style = LEVEL_STYLE.get(f.level, "")
        table.add_row(f"[{style}]{f.level}[/{style}]", f.topic, f.message, f.fix)
    return table


def doctor_exit_code(findings: list[Finding]) -> int:
    """1 when anything would stop the stack from working, else 0 (warnings do not fail)."""
    return 1 if any(f.level == PROBLEM for f in findings) else 0


# Names the CLI and `up` already use.
report_table = render_report
exit_code = doctor_exit_code
