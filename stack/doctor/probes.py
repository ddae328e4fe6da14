"""What doctor sees of the machine: one SystemProbe (commands via stack.engines.runner, files, disk,
ports), so tests can hand in a probe with canned answers, and plain readers over it."""
from __future__ import annotations

import json
import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from stack.config.settings import Settings
from stack.doctor.hardware import GIB
from stack.engines import runner
from stack.engines.errors import CommandNotFound, CommandTimedOut
from stack.services import ports

CDI_DIRS = ("/etc/cdi", "/var/run/cdi")
NVIDIA_SMI = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]


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
        """Run argv through stack.engines.runner (once per probe: doctor and detect_profile ask the same things)."""
        key = tuple(argv)
        if key not in self._seen:
            try:
                result = runner.run(list(argv), check=False, timeout=self.timeout)
                self._seen[key] = Output(result.returncode, result.stdout, result.stderr)
            except CommandTimedOut as exc:
                self._seen[key] = Output(124, "", exc.message)
            except CommandNotFound as exc:
                self._seen[key] = Output(127, "", exc.message)
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


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gb: float  # 0 when unknown


def json_object(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def docker_info(probe: SystemProbe) -> dict:
    out = probe.command(["docker", "info", "--format", "{{json .}}"])
    return json_object(out.stdout) if out.code == 0 else {}


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
    cards = json_object(out.stdout).values() if out.code == 0 else []
    sizes = [int(v) for card in cards if isinstance(card, dict)
             for k, v in card.items() if "Total Memory" in k and "Used" not in k and str(v).isdigit()]
    return sum(sizes) / GIB


def listeners(probe: SystemProbe) -> dict[int, list[tuple[str, str]]]:
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


def holder(entries: list[tuple[str, str]]) -> str:
    process = next((p for _, p in entries if p), "")
    if process.startswith("docker-proxy"):
        return f"a Docker container ({process}; `docker ps` shows which)"
    return process or "another program (`sudo ss -ltnp` shows which)"


def own_ports(settings: Settings, probe: SystemProbe) -> set[int]:
    """Host ports already published by this stack's running containers (not a conflict)."""
    out = probe.command(["docker", "ps", "--filter", f"label=com.docker.compose.project={settings.project}",
                         "--format", "{{.Ports}}"])
    return {int(p) for p in re.findall(r":(\d+)->", out.stdout)} if out.code == 0 else set()
