"""Model advice from what the machine holds: the context window Ollama gets, which sizes and
quantizations fit, the KV-cache cost, the first-run OLLAMA_MODELS and `--profile auto`.
The arithmetic is stack.doctor.hardware; this module applies it to a probe and the settings."""
from __future__ import annotations

from stack.config.settings import Settings
from stack.doctor.findings import OK, WARNING, Finding
from stack.doctor.gpu import Accelerator, check_gpu
from stack.doctor.hardware import (
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
from stack.doctor.probes import SystemProbe, amd_devices, amd_vram_gb, memory_gb, nvidia_gpus, nvidia_route


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
