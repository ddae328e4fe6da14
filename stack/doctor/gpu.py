"""The GPU doctor finds, whether Docker can hand it to a container, and whether the profile fits it."""
from __future__ import annotations

from dataclasses import dataclass

from stack.config.settings import Settings
from stack.doctor.findings import OK, PROBLEM, WARNING, Finding
from stack.doctor.probes import (
    NVIDIA_SMI,
    Gpu,
    SystemProbe,
    amd_devices,
    amd_vram_gb,
    memory_gb,
    nvidia_gpus,
    nvidia_route,
)

TOOLKIT_FIX = ("install the NVIDIA Container Toolkit (https://docs.nvidia.com/datacenter/cloud-native/"
               "container-toolkit/latest/install-guide.html), then `sudo nvidia-ctk runtime configure "
               "--runtime=docker` and restart Docker")
CONFIGURE_FIX = "run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker"


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
    if not findings:  # no driver warning above: say plainly there is no GPU
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
