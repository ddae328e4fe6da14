"""`start.py doctor`: what this machine has, what will get in the way, and which models fit.

Every fact about the machine comes through one SystemProbe (commands via stack.runner, files,
disk, memory, ports), so tests can hand in a probe with canned answers.
"""
from __future__ import annotations

import platform
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from stack import runner
from stack.errors import StackError
from stack.settings import Settings

GIB = 1024**3

# Seed table (shared/seeds/003_*: parameters -> typical VRAM at Q4 quantization -> what it can do).
SIZE_CLASSES: tuple[tuple[str, float, float, str, str], ...] = (
    # (class, Q4 VRAM low GB, Q4 VRAM high GB, representative model, what it is good for)
    ("7-8B", 4, 5, "llama3.1:8b", "simple chat"),
    ("14B", 8, 10, "qwen2.5:14b", "basic tool calling (agents)"),
    ("30-34B", 16, 20, "qwen2.5:32b", "complicated agent tasks"),
    ("70B", 35, 40, "llama3.1:70b", "the most complex agents"),
)
# Seed table (shared/seeds/002_*: quantization -> VRAM for a 7B model, GB).
QUANT_7B_GB: tuple[tuple[str, float], ...] = (
    ("F16", 14), ("Q8_0", 7), ("Q6_K", 5.5), ("Q5_K_M", 4.5), ("Q4_K_M", 4),
)
# Public model configs: (layers, KV heads, head dimension) - what the KV cache size depends on.
MODEL_SHAPES: dict[str, tuple[int, int, int]] = {
    "llama3.2:3b": (28, 8, 128),
    "llama3.1:8b": (32, 8, 128),
    "mistral:7b": (32, 8, 128),
    "qwen2.5:7b": (28, 4, 128),
    "qwen2.5:14b": (48, 8, 128),
    "gemma2:9b": (42, 8, 256),
    "qwen2.5:32b": (64, 8, 128),
    "llama3.1:70b": (80, 8, 128),
}
# Bytes per cached element: f16 = 2; q8_0 = blocks of 32 int8 + one f16 scale; q4_0 = 32 nibbles + scale.
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warning | problem
    topic: str
    message: str
    fix: str = ""


class SystemProbe:
    """The only code that looks at the machine. Tests subclass it with canned answers."""

    def command(self, argv: list[str]) -> tuple[int, str]:
        try:
            result = runner.run(argv, check=False, timeout=20)
        except StackError:
            return 127, ""
        return result.returncode, result.stdout

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def read(self, path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(p.name for p in Path(path).iterdir())
        except OSError:
            return []

    def free_disk_gb(self, path: Path) -> float:
        return shutil.disk_usage(path).free / GIB

    def system(self) -> tuple[str, str]:
        return platform.system(), platform.machine()

    def port_free(self, host: str, port: int) -> bool:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
        return True


def kv_cache_bytes(shape: tuple[int, int, int], tokens: int, cache_type: str) -> float:
    """K and V, for every layer and KV head, for every token of context."""
    layers, kv_heads, head_dim = shape
    return 2 * layers * kv_heads * head_dim * tokens * KV_BYTES[cache_type]


def ram_gb(probe: SystemProbe) -> float:
    match = re.search(r"MemTotal:\s+(\d+) kB", probe.read("/proc/meminfo"))
    return int(match.group(1)) / 1024**2 if match else 0.0


def nvidia_gpus(probe: SystemProbe) -> list[tuple[str, float]]:
    code, out = probe.command(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"])
    gpus = []
    if code == 0:
        for line in out.strip().splitlines():
            name, _, mib = line.rpartition(",")
            if mib.strip().isdigit():
                gpus.append((name.strip(), int(mib.strip()) / 1024))
    return gpus


def nvidia_toolkit(probe: SystemProbe) -> str:
    """'runtime', 'cdi' or '' : how Docker can hand NVIDIA GPUs to containers."""
    code, out = probe.command(["docker", "info", "--format", "{{json .Runtimes}}"])
    if code == 0 and "nvidia" in out:
        return "runtime"
    for folder in ("/etc/cdi", "/var/run/cdi"):
        if any("nvidia" in name for name in probe.listdir(folder)):
            return "cdi"
    return ""


def amd_gpu(probe: SystemProbe) -> bool:
    return probe.exists("/dev/kfd") and probe.exists("/dev/dri")


def detect_profile(probe: SystemProbe) -> tuple[str, str]:
    """The profile this machine should use, and why."""
    system, machine = probe.system()
    if system == "Darwin":
        return "none", "macOS: Docker cannot use the Apple GPU; run Ollama on the host (Metal)"
    if nvidia_gpus(probe) and nvidia_toolkit(probe):
        return "gpu-nvidia", "NVIDIA GPU and the container toolkit found"
    if amd_gpu(probe):
        return "gpu-amd", "AMD GPU (/dev/kfd, /dev/dri) found"
    return "cpu", "no usable GPU found"


@dataclass(frozen=True)
class Fit:
    size: str   # parameter class, e.g. "7-8B"
    model: str  # a representative Ollama model of that class
    use: str    # what that class is good for

    @property
    def label(self) -> str:
        return f"{self.size} at Q4_K_M"


def fit_advice(memory_gb: float) -> Fit | None:
    """The largest size class whose Q4 footprint (upper bound of the seed table) fits in memory."""
    best = None
    for size, _low, high, model, use in SIZE_CLASSES:
        if high <= memory_gb:
            best = Fit(size, model, use)
    return best


def best_quant_for_7b(memory_gb: float, headroom_gb: float = 1.0) -> str:
    for quant, gb in QUANT_7B_GB:
        if gb + headroom_gb <= memory_gb:
            return quant
    return "Q4_K_M"


def _gpu_findings(settings: Settings, probe: SystemProbe) -> tuple[list[Finding], float, bool]:
    findings: list[Finding] = []
    system, machine = probe.system()
    gpus = nvidia_gpus(probe)
    toolkit = nvidia_toolkit(probe) if gpus else ""
    memory, on_gpu = 0.0, False
    if system == "Darwin":
        findings.append(Finding("warning" if settings.profile != "none" else "ok", "GPU",
                                f"Apple {machine}: containers cannot use the GPU",
                                "" if settings.profile == "none" else
                                "install Ollama on the Mac and use --profile none"))
    elif gpus:
        memory, on_gpu = max(gb for _, gb in gpus), True
        names = ", ".join(f"{n} ({gb:.0f} GB)" for n, gb in gpus)
        if toolkit:
            findings.append(Finding("ok", "GPU", f"NVIDIA {names}; Docker reaches it via the "
                                    f"{'NVIDIA runtime' if toolkit == 'runtime' else 'CDI specs'}"))
        else:
            findings.append(Finding("problem" if settings.profile == "gpu-nvidia" else "warning", "GPU",
                                    f"NVIDIA {names}, but Docker cannot use it (no NVIDIA Container Toolkit)",
                                    "install nvidia-container-toolkit, run `sudo nvidia-ctk runtime configure "
                                    "--runtime=docker` and restart Docker"))
        if toolkit and settings.profile == "cpu":
            findings.append(Finding("warning", "profile", "an NVIDIA GPU is ready but the profile is cpu",
                                    "use --profile gpu-nvidia (or --profile auto)"))
    elif amd_gpu(probe):
        findings.append(Finding("ok", "GPU", "AMD GPU devices /dev/kfd and /dev/dri present"))
        if settings.profile == "cpu":
            findings.append(Finding("warning", "profile", "an AMD GPU is present but the profile is cpu",
                                    "use --profile gpu-amd"))
    else:
        findings.append(Finding("ok" if settings.profile in ("cpu", "none") else "problem", "GPU",
                                "no GPU found: models run on the CPU (expect a few tokens per second for 7B)",
                                "" if settings.profile in ("cpu", "none") else "use --profile cpu"))
    if settings.profile == "gpu-nvidia" and not gpus:
        findings.append(Finding("problem", "profile", "profile gpu-nvidia but nvidia-smi finds no GPU",
                                "install the NVIDIA driver, or use --profile cpu"))
    if settings.profile == "gpu-amd" and not amd_gpu(probe):
        findings.append(Finding("problem", "profile", "profile gpu-amd but /dev/kfd or /dev/dri is missing",
                                "install the ROCm driver, or use --profile cpu"))
    return findings, memory, on_gpu


def run_checks(settings: Settings, probe: SystemProbe) -> list[Finding]:
    findings: list[Finding] = []
    code, out = probe.command(["docker", "version", "--format", "{{.Server.Version}}"])
    findings.append(Finding("ok", "Docker", f"Engine {out.strip()}") if code == 0 and out.strip() else
                    Finding("problem", "Docker", "Docker Engine does not answer",
                            "install Docker Engine and start it (`sudo systemctl start docker`)"))
    code, out = probe.command(["docker", "compose", "version", "--short"])
    version = out.strip().lstrip("v")
    parts = tuple(int(x) for x in re.findall(r"\d+", version)[:2]) if version else ()
    if code != 0 or not version:
        findings.append(Finding("problem", "Compose", "Docker Compose v2 is missing",
                                "install the docker-compose-plugin package"))
    elif parts < (2, 20):
        findings.append(Finding("problem", "Compose", f"Compose {version} is too old (2.20+ needed)",
                                "upgrade the docker-compose-plugin package"))
    else:
        findings.append(Finding("ok", "Compose", f"Compose {version}"))

    free = probe.free_disk_gb(settings.root)
    level = "problem" if free < 5 else "warning" if free < 20 else "ok"
    findings.append(Finding(level, "disk", f"{free:.0f} GB free", "" if level == "ok" else
                            "free some space: models take 2-40 GB each"))
    ram = ram_gb(probe)
    if ram:
        findings.append(Finding("warning" if ram < 8 else "ok", "RAM", f"{ram:.0f} GB",
                                "" if ram >= 8 else "8 GB or more is recommended for the stack itself"))

    from stack.lifecycle import published_ports

    host = "0.0.0.0" if settings.public else "127.0.0.1"
    busy = [(p, s) for p, s in published_ports(settings).items() if not probe.port_free(host, p)]
    owners = _port_owners(probe)
    for port, source in busy:
        who = owners.get(port, "another program (maybe this stack, if it is running)")
        findings.append(Finding("warning", "ports", f"port {port} ({source}) is taken by {who}",
                                f"stop it, or choose another port for {source} in .env" if "_PORT" in source
                                else "stop the program that holds it"))
    if not busy:
        findings.append(Finding("ok", "ports", f"{len(published_ports(settings))} ports free"))

    gpu_findings, memory, on_gpu = _gpu_findings(settings, probe)
    findings.extend(gpu_findings)
    memory = memory or ram
    fit = fit_advice(memory)
    where = "VRAM" if on_gpu else "RAM"
    if fit and not on_gpu and system_name(probe) != "Darwin" and fit.size != "7-8B":
        findings.append(Finding("warning", "models", f"{memory:.0f} GB {where} would hold {fit.label}, but on the "
                                "CPU 7-8B at Q4_K_M is the practical limit (a few tokens per second)",
                                "keep OLLAMA_MODELS to 3-8B models, or add a GPU"))
        fit = fit_advice(SIZE_CLASSES[0][2])
    elif fit:
        findings.append(Finding("ok", "models", f"{memory:.0f} GB {where}: up to {fit.label} (e.g. {fit.model}), "
                                f"good for {fit.use}; 7-8B fits at {best_quant_for_7b(memory)}"))
    else:
        findings.append(Finding("warning", "models", f"{memory:.0f} GB {where}: only small models (1-3B) fit",
                                "use llama3.2:3b or smaller"))
    ctx = settings.as_int("OLLAMA_CONTEXT_LENGTH")
    model = fit.model if fit else "llama3.2:3b"
    f16 = kv_cache_bytes(MODEL_SHAPES[model], ctx, "f16") / GIB
    q8 = kv_cache_bytes(MODEL_SHAPES[model], ctx, "q8_0") / GIB
    chosen = settings["OLLAMA_KV_CACHE_TYPE"]
    findings.append(Finding("ok" if chosen != "f16" else "warning", "KV cache",
                            f"{ctx} tokens of context for {model} cost {f16:.2f} GB at f16, {q8:.2f} GB at q8_0 "
                            f"(using {chosen})", "" if chosen != "f16" else "set OLLAMA_KV_CACHE_TYPE=q8_0"))
    return findings


def system_name(probe: SystemProbe) -> str:
    return probe.system()[0]


def suggested_models(probe: SystemProbe) -> str:
    """First-run OLLAMA_MODELS for this hardware: a chat model that fits, plus the embedding model."""
    gpus = nvidia_gpus(probe)
    vram = max((gb for _, gb in gpus), default=0.0)
    chat = "llama3.1:8b" if vram >= 8 or (system_name(probe) == "Darwin" and ram_gb(probe) >= 16) else "llama3.2:3b"
    return f"{chat},nomic-embed-text"


def _port_owners(probe: SystemProbe) -> dict[int, str]:
    code, out = probe.command(["ss", "-ltnpH"])
    owners: dict[int, str] = {}
    if code != 0:
        return owners
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        port = fields[3].rsplit(":", 1)[-1]
        match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', line)
        if port.isdigit():
            owners[int(port)] = f"{match.group(1)} (pid {match.group(2)})" if match else "another program"
    return owners


def report_table(findings: list[Finding]) -> Table:
    table = Table(title="Local AI Stack doctor", title_justify="left")
    for column in ("", "Check", "Finding", "Fix"):
        table.add_column(column)
    marks = {"ok": "[green]ok[/green]", "warning": "[yellow]warning[/yellow]", "problem": "[red]problem[/red]"}
    for f in findings:
        table.add_row(marks[f.level], f.topic, f.message, f.fix)
    return table


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.level == "problem" for f in findings) else 0
