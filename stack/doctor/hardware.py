"""Hardware arithmetic for `doctor`: which model sizes fit in memory, and what the context window costs.

Pure data and math, no access to the machine: the seed tables live here as data so tests can hold
the advice to them, and the KV-cache figures are derived from each model's shape, not looked up.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

GIB = 1024**3

# Before suggesting a finer quantization we leave room for the model's KV cache at this reference
# context (the stack's default, at f16 to be safe) plus an allowance for Ollama's own buffers.
REFERENCE_CONTEXT = 8192
RUNTIME_ALLOWANCE_GB = 1.0


@dataclass(frozen=True)
class SizeClass:
    size: str          # parameter range as people say it, e.g. "7-8B"
    billions: float    # representative parameter count, to scale the quantization table
    q4_low_gb: float   # typical VRAM at Q4 (low end of the seed's range)
    q4_high_gb: float  # ... and the high end: what we require before saying "fits"
    tokens_per_s: str  # the seed's expected speed on a GPU
    use: str           # what that size is good for
    model: str         # an Ollama model of that size, for the KV-cache figures


# From shared/seeds/003_d31e35f1b3339db4.txt ("Technical Deep Dive: Hardware Requirements"): parameter
# range -> VRAM at Q4 -> speed -> what agents can do. Its example cards put 8 GB at 7-8B, 12 and 16 GB
# at 14B, 24 GB at 30-34B and two 24 GB cards (48 GB) at 70B, which is what the high end gives us.
SIZE_CLASSES: tuple[SizeClass, ...] = (
    SizeClass("7-8B", 8, 4, 5, "25-35", "simple chat", "llama3.1:8b"),
    SizeClass("14B", 14, 8, 10, "15-25", "basic tool calling for agents", "qwen2.5:14b"),
    SizeClass("30-34B", 32, 16, 20, "10-20", "complicated agent tasks", "qwen2.5:32b"),
    SizeClass("70B", 70, 35, 40, "8-12", "the most complex agents", "llama3.1:70b"),
)

# From shared/seeds/002_878a9d7e905a84c8.txt ("Quantization Levels"): GB of VRAM for a 7B model, finest
# first. Divided by 7 it gives GB per billion parameters, which scales to the other sizes (14B at Q4_K_M
# -> 8 GB, 70B -> 40 GB: the same figures as the table above).
QUANT_GB_FOR_7B: tuple[tuple[str, float], ...] = (
    ("Q8_0", 7), ("Q6_K", 5.5), ("Q5_K_M", 4.5), ("Q4_K_M", 4), ("Q3_K_M", 3), ("Q2_K", 2.5),
)
FINER_THAN_Q4 = ("Q8_0", "Q6_K", "Q5_K_M")
# Same seed ("CPU-Only"): what a 7B model does without a GPU.
CPU_TOKENS_PER_S_7B = "1-5"
SMALL_MODEL = "llama3.2:3b"


def quant_gb(size: SizeClass, quant: str) -> float:
    """Approximate weights size of `size` at `quant`, scaled from the seed's 7B column."""
    return dict(QUANT_GB_FOR_7B)[quant] / 7 * size.billions


def headroom_gb(size: SizeClass) -> float:
    """Memory beside the weights: the KV cache at the reference context plus the runtime allowance."""
    return kv_cache_bytes(MODEL_SHAPES[size.model], REFERENCE_CONTEXT, "f16") / GIB + RUNTIME_ALLOWANCE_GB


def best_quant(size: SizeClass, memory_gb: float) -> str:
    """The finest quantization of `size` that still leaves its headroom free ('' if even Q2_K does not)."""
    for quant, _ in QUANT_GB_FOR_7B:
        if quant_gb(size, quant) + headroom_gb(size) <= memory_gb:
            return quant
    return ""


def largest_fit(memory_gb: float) -> SizeClass | None:
    """The biggest size class whose Q4 footprint (high end of the seed's range) fits in memory."""
    fitting = [c for c in SIZE_CLASSES if c.q4_high_gb <= memory_gb]
    return fitting[-1] if fitting else None


def fit_advice(memory_gb: float, gpu: bool) -> list[str]:
    """Which model sizes and quantizations fit in `memory_gb` (VRAM when gpu, else system RAM)."""
    top = largest_fit(memory_gb)
    if top is None:
        return [f"only small models (1-3B, e.g. {SMALL_MODEL}) fit; a 7-8B model needs "
                f"{SIZE_CLASSES[0].q4_low_gb:g}-{SIZE_CLASSES[0].q4_high_gb:g} GB at Q4_K_M"]
    if not gpu:
        base = SIZE_CLASSES[0]
        rows = [f"{base.size} at Q4_K_M is the practical limit on a CPU ({CPU_TOKENS_PER_S_7B} tokens/s for 7B), "
                f"e.g. {base.model}; {SMALL_MODEL} answers faster"]
        if top is not base:
            rows.append(f"{top.size} at Q4_K_M ({top.q4_low_gb:g}-{top.q4_high_gb:g} GB) would fit too, but "
                        "without a GPU it runs several times slower than 7-8B")
        return rows
    rows = [f"{top.size} at Q4_K_M ({top.q4_low_gb:g}-{top.q4_high_gb:g} GB, {top.tokens_per_s} tokens/s): "
            f"{top.use}, e.g. {top.model}"]
    # Finer quantization: first the same size, else the next size down (a smaller model at Q8_0).
    index = SIZE_CLASSES.index(top)
    for size in (top, SIZE_CLASSES[index - 1]) if index else (top,):
        quant = best_quant(size, memory_gb)
        if quant in FINER_THAN_Q4:
            rows.append(f"for higher quality: {size.size} at {quant} (~{quant_gb(size, quant):.1f} GB)")
            break
    return rows


class ModelShape(NamedTuple):
    """What the KV cache depends on: every layer keeps a K and a V vector per KV head per token."""

    layers: int
    kv_heads: int
    head_dim: int


# Public model configurations (num_hidden_layers, num_key_value_heads, head_dim) of common Ollama models.
MODEL_SHAPES: dict[str, ModelShape] = {
    "llama3.2:1b": ModelShape(16, 8, 64),
    "llama3.2:3b": ModelShape(28, 8, 128),
    "llama3.1:8b": ModelShape(32, 8, 128),
    "mistral:7b": ModelShape(32, 8, 128),
    "qwen2.5:7b": ModelShape(28, 4, 128),
    "gemma2:9b": ModelShape(42, 8, 256),
    "qwen2.5:14b": ModelShape(48, 8, 128),
    "qwen2.5:32b": ModelShape(64, 8, 128),
    "llama3.1:70b": ModelShape(80, 8, 128),
}
# The tag Ollama pulls when none is given.
DEFAULT_TAGS = {"llama3.2": "3b", "llama3.1": "8b", "mistral": "7b", "qwen2.5": "7b", "gemma2": "9b"}

# Bytes per cached element. q8_0 stores blocks of 32 int8 values plus one f16 scale (34 bytes per 32);
# q4_0 stores 32 4-bit values plus one f16 scale (18 bytes per 32).
KV_BYTES_PER_ELEMENT: dict[str, Fraction] = {"f16": Fraction(2), "q8_0": Fraction(34, 32), "q4_0": Fraction(18, 32)}


def kv_cache_bytes(shape: ModelShape | tuple[int, int, int], context_tokens: int, cache_type: str) -> int:
    """Bytes of K and V for `context_tokens` tokens: 2 x layers x kv_heads x head_dim x tokens x bytes each."""
    layers, kv_heads, head_dim = shape
    elements = 2 * layers * kv_heads * head_dim * context_tokens
    return int(elements * KV_BYTES_PER_ELEMENT[cache_type])


def shape_for(model: str) -> ModelShape | None:
    """The shape of an Ollama model name such as `llama3.1`, `llama3.1:8b` or `llama3.1:8b-instruct-q8_0`."""
    name, _, tag = model.strip().lower().partition(":")
    tag = tag or DEFAULT_TAGS.get(name, "")
    for key, shape in MODEL_SHAPES.items():
        key_name, _, key_tag = key.partition(":")
        if name == key_name and (tag == key_tag or tag.startswith(key_tag + "-")):
            return shape
    return None


# -- the context window Ollama gets -------------------------------------------------------------

# Ollama's own default when OLLAMA_CONTEXT_LENGTH is unset or 0 (ollama/ollama v0.32.15 server/routes.go:
# 2044-2058): the total VRAM of its GPUs picks 4k, 32k or 256k, with 23 and 47 GiB as the thresholds.
OLLAMA_VRAM_TIERS: tuple[tuple[int, int], ...] = ((47, 262144), (23, 32768), (0, 4096))
# On the CPU (no VRAM) Ollama would take 4k; the stack keeps its long-standing 8k there: it costs RAM,
# not VRAM, and a larger one makes every prompt slow to process at CPU speeds.
CPU_CONTEXT = 8192
CONTEXT_STEPS = (4096, 8192, 16384, 32768, 65536, 131072, 262144)
# Parameter counts (billions) of the models with a known shape, for their weights at Q4_K_M.
MODEL_BILLIONS: dict[str, float] = {
    "llama3.2:1b": 1.2, "llama3.2:3b": 3.2, "llama3.1:8b": 8.0, "mistral:7b": 7.2, "qwen2.5:7b": 7.6,
    "gemma2:9b": 9.2, "qwen2.5:14b": 14.8, "qwen2.5:32b": 32.8, "llama3.1:70b": 70.6,
}


def ollama_default_context(vram_gb: float) -> int:
    """The context Ollama picks by itself for this much VRAM (GiB)."""
    return next(ctx for gib, ctx in OLLAMA_VRAM_TIERS if vram_gb >= gib)


def known_model(model: str) -> str:
    """The MODEL_SHAPES key of an Ollama model name, or ''."""
    shape = shape_for(model)
    return next((key for key, value in MODEL_SHAPES.items() if value == shape
                 and key.split(":")[0] == model.strip().lower().split(":")[0]), "") if shape else ""


def context_that_fits(vram_gb: float, model: str, cache_type: str) -> int:
    """The largest standard context at which `model` (Q4_K_M weights) and its KV cache fit in the VRAM; 0 if none."""
    key = known_model(model)
    if not key:
        return 0
    weights = dict(QUANT_GB_FOR_7B)["Q4_K_M"] / 7 * MODEL_BILLIONS[key]
    fitting = [ctx for ctx in CONTEXT_STEPS
               if weights + kv_cache_bytes(MODEL_SHAPES[key], ctx, cache_type) / GIB + RUNTIME_ALLOWANCE_GB <= vram_gb]
    return fitting[-1] if fitting else 0


@dataclass(frozen=True)
class ContextChoice:
    """What OLLAMA_CONTEXT_LENGTH=auto becomes: the value compose sets (None = leave it to Ollama), the
    context Ollama will then use, and why."""

    setting: int | None
    tokens: int
    reason: str


def auto_context(profile: str, vram_gb: float, chat_model: str, cache_type: str) -> ContextChoice:
    """OLLAMA_CONTEXT_LENGTH=auto from what doctor knows: never below Ollama's own VRAM tier, and more when
    the configured chat model and its KV cache fit in more. Left unset where Ollama knows as much as we do,
    so it keeps stepping its automatic context down when a load does not fit (server/sched.go:754-775)."""
    if profile == "cpu":
        return ContextChoice(CPU_CONTEXT, CPU_CONTEXT, f"CPU: {CPU_CONTEXT} tokens (Ollama alone would take 4096)")
    if not vram_gb:
        return ContextChoice(None, 0, "VRAM size unknown: Ollama picks 4096, 32768 or 262144 tokens by VRAM")
    tier = ollama_default_context(vram_gb)
    fits = context_that_fits(vram_gb, chat_model, cache_type)
    if fits > tier:
        return ContextChoice(fits, fits, f"{chat_model} with a {cache_type} KV cache fits {fits} tokens in "
                             f"{vram_gb:.0f} GB VRAM (Ollama alone would take {tier})")
    return ContextChoice(None, tier, f"Ollama's own default for {vram_gb:.0f} GB VRAM")
